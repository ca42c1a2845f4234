package monitoring

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
)

// regionLagCode is regionlag/index.js (tested with node --test beside it).
//
//go:embed regionlag/index.js
var regionLagCode string

// MaxInlineCodeLength is CloudFormation's limit on a Lambda function's
// inline source (Code.ZipFile): 4096 characters.
const MaxInlineCodeLength = 4096

// RegionLagProps configure the comparison of this region's pinset with the
// other region's, for a cluster with peers in two regions. Each region has
// one, each naming the other.
type RegionLagProps struct {
	// StackName prefixes the alarms' names and is the "stack" dimension of
	// this region's peers' metrics and of what the check publishes.
	// Required.
	StackName string
	// Region is this region, the value of the "region" dimension this
	// region's peers report. Default: the region of the stack the
	// construct is in, which must then be explicit (not a token).
	Region string
	// OtherRegion is the region of the cluster's other peers. Required;
	// not Region.
	OtherRegion string
	// OtherStackName is the "stack" dimension the other region's peers
	// report. Default: StackName (every collector of the cluster labels
	// its metrics with the same stack).
	OtherStackName string
	// Topic the alarms notify, on ALARM and on OK. Required.
	Topic awssns.ITopic
	// RunbookURL: as Props.RunbookURL.
	RunbookURL string
	// LogRetention of the function's log. Default three months.
	LogRetention awslogs.RetentionDays
}

// Validate reports every problem at once.
func (p *RegionLagProps) Validate() error {
	if p == nil {
		return errors.New("monitoring.RegionLagProps: required (nil)")
	}
	l := propcheck.New("monitoring.RegionLagProps")
	if p.StackName == "" {
		l.Add("StackName", "required")
	}
	if p.Region != "" {
		if err := partition.ValidateRegion(p.Region); err != nil {
			l.Add("Region", "%v", err)
		}
	}
	if err := partition.ValidateRegion(p.OtherRegion); err != nil {
		l.Add("OtherRegion", "%v", err)
	} else if p.OtherRegion == p.Region {
		l.Add("OtherRegion", "%q is this region too; allowed: the region of the cluster's other peers", p.OtherRegion)
	}
	if p.Topic == nil {
		l.Add("Topic", "required")
	}
	if err := monitoringspec.ValidateRunbookURL(p.RunbookURL); err != nil {
		l.Add("RunbookURL", "%v", err)
	}
	return l.Err()
}

// RegionLag is the scheduled check and its two alarms.
type RegionLag struct {
	constructs.Construct
	Function awslambda.Function
	// Alarms: the other region behind, the other region not reporting.
	Alarms []awscloudwatch.Alarm
	// Lag and Reporting are the published metrics, for a dashboard.
	Lag, Reporting awscloudwatch.Metric
	// Pinsets are this region's and the other region's pinset size (the
	// most any of a region's peers holds), each read in its own region.
	Pinsets []awscloudwatch.IMetric
}

// regionLagConfig is what the function reads from its REGION_LAG variable.
type regionLagConfig struct {
	Namespace            string `json:"namespace"`
	PinsMetric           string `json:"pinsMetric"`
	StackDimension       string `json:"stackDimension"`
	RegionDimension      string `json:"regionDimension"`
	OtherRegionDimension string `json:"otherRegionDimension"`
	Stack                string `json:"stack"`
	Region               string `json:"region"`
	OtherStack           string `json:"otherStack"`
	OtherRegion          string `json:"otherRegion"`
	LagMetric            string `json:"lagMetric"`
	ReportingMetric      string `json:"reportingMetric"`
	WindowMinutes        int    `json:"windowMinutes"`
	LookbackMinutes      int    `json:"lookbackMinutes"`
}

// NewRegionLag creates a function that every RegionLagScheduleMinutes reads
// both regions' pinset sizes (ipfscluster_pins by stack and region, the
// most any peer of a region holds) and publishes OtherRegionPinsetLag and
// OtherRegionReporting in this region, and the alarms on them. An alarm
// cannot read another region's metrics, and the peers (in a private swarm)
// have no route to another region's CloudWatch; the function runs outside
// any VPC.
func NewRegionLag(scope constructs.Construct, id string, props *RegionLagProps) (*RegionLag, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	p := *props
	if p.Region == "" {
		region := awscdk.Stack_Of(scope).Region()
		if region == nil || *awscdk.Token_IsUnresolved(region) {
			return nil, fmt.Errorf("monitoring.NewRegionLag: %q needs RegionLagProps.Region or a stack with an explicit region (its peers' region dimension)", id)
		}
		p.Region = *region
		if p.Region == p.OtherRegion {
			return nil, fmt.Errorf("monitoring.RegionLagProps.OtherRegion: %q is the stack's region too; allowed: the region of the cluster's other peers", p.OtherRegion)
		}
	}
	if p.OtherStackName == "" {
		p.OtherStackName = p.StackName
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if len(regionLagCode) > MaxInlineCodeLength {
		return nil, fmt.Errorf("monitoring.NewRegionLag: regionlag/index.js has %d characters, CloudFormation takes %d inline", len(regionLagCode), MaxInlineCodeLength)
	}
	this := constructs.NewConstruct(scope, jsii.String(id))

	config, err := json.Marshal(regionLagConfig{
		Namespace:            monitoringspec.Namespace,
		PinsMetric:           monitoringspec.MetricPins,
		StackDimension:       monitoringspec.DimensionStack,
		RegionDimension:      monitoringspec.DimensionRegion,
		OtherRegionDimension: monitoringspec.DimensionOtherRegion,
		Stack:                p.StackName,
		Region:               p.Region,
		OtherStack:           p.OtherStackName,
		OtherRegion:          p.OtherRegion,
		LagMetric:            monitoringspec.MetricOtherRegionPinsetLag,
		ReportingMetric:      monitoringspec.MetricOtherRegionReporting,
		WindowMinutes:        monitoringspec.RegionLagWindowMinutes,
		LookbackMinutes:      monitoringspec.RegionReportingLookbackMinutes,
	})
	if err != nil {
		return nil, err
	}

	// A role of its own: its log group, and CloudWatch's metric API.
	log := awslogs.NewLogGroup(this, jsii.String("Log"), &awslogs.LogGroupProps{Retention: p.LogRetention})
	role := awsiam.NewRole(this, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("Compares the pinset of %s's peers in this region with %s's", p.StackName, p.OtherRegion)),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{log.LogGroupArn()},
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cloudwatch:GetMetricData"),
		Resources: jsii.Strings("*"),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("cloudwatch:PutMetricData"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": monitoringspec.Namespace}},
	}))
	fn := awslambda.NewFunction(this, jsii.String("Function"), &awslambda.FunctionProps{
		Runtime:     awslambda.Runtime_NODEJS_24_X(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromInline(jsii.String(regionLagCode)),
		Description: jsii.String(fmt.Sprintf("Publishes how far %s's pinset in %s is behind this region's", p.StackName, p.OtherRegion)),
		Role:        role,
		LogGroup:    log,
		Environment: &map[string]*string{"REGION_LAG": jsii.String(string(config))},
		// Two reads and a write; a region that does not answer within
		// the SDK's retries is reported as not reporting.
		Timeout:    awscdk.Duration_Minutes(jsii.Number(1)),
		MemorySize: jsii.Number(256),
	})
	awsevents.NewRule(this, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("Compare the pinset with %s's every %d minutes", p.OtherRegion, monitoringspec.RegionLagScheduleMinutes)),
		Schedule:    awsevents.Schedule_Rate(minutes(monitoringspec.RegionLagScheduleMinutes)),
		// A missed run is made good by the next one.
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(0)})},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("CloudWatch's GetMetricData and PutMetricData have no resource-level permissions (the service authorization reference lists none): " +
			"GetMetricData reads this region's and the other region's metrics, PutMetricData is limited to the cluster's namespace by the cloudwatch:namespace condition."),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(true))

	out := &RegionLag{Construct: this, Function: fn}
	dims := map[string]*string{
		monitoringspec.DimensionStack:       jsii.String(p.StackName),
		monitoringspec.DimensionOtherRegion: jsii.String(p.OtherRegion),
	}
	period := minutes(monitoringspec.RegionLagScheduleMinutes)
	out.Lag = metric(monitoringspec.Namespace, monitoringspec.MetricOtherRegionPinsetLag, "Minimum", period, dims)
	out.Reporting = metric(monitoringspec.Namespace, monitoringspec.MetricOtherRegionReporting, "Minimum", period, dims)
	for _, r := range []struct{ stack, region string }{{p.StackName, p.Region}, {p.OtherStackName, p.OtherRegion}} {
		out.Pinsets = append(out.Pinsets, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(monitoringspec.Namespace),
			MetricName: jsii.String(monitoringspec.MetricPins),
			DimensionsMap: &map[string]*string{
				monitoringspec.DimensionStack:  jsii.String(r.stack),
				monitoringspec.DimensionRegion: jsii.String(r.region),
			},
			Statistic: jsii.String("Maximum"),
			Period:    minutes(1),
			Region:    jsii.String(r.region),
			Label:     jsii.String(r.region),
		}))
	}
	a := &alarms{scope: this, stack: p.StackName, action: awscloudwatchactions.NewSnsAction(p.Topic), runbooks: runbookURL(p.RunbookURL)}
	a.add("Behind", alarm{
		subject: p.OtherRegion, what: whatPinsetBehind,
		metric:    out.Lag,
		threshold: 1, operator: atLeast, periods: monitoringspec.RegionLagPeriods,
		// No lag published: one region did not report; the other alarm
		// says so.
		missing: awscloudwatch.TreatMissingData_NOT_BREACHING,
		why: fmt.Sprintf("The peers in %s have held fewer pins than this region's for %d minutes (each region's best-informed peer, compared every %d minutes): they do not hear this region (peering, security groups) or are stalled.",
			p.OtherRegion, monitoringspec.RegionLagPeriods*monitoringspec.RegionLagScheduleMinutes, monitoringspec.RegionLagScheduleMinutes),
		runbook: monitoringspec.RunbookRegionBehind,
		summary: true,
	})
	a.add("NotReporting", alarm{
		subject: p.OtherRegion, what: whatNotReporting,
		metric:    out.Reporting,
		threshold: 1, operator: below, periods: monitoringspec.RegionNotReportingPeriods,
		// No data: this region's check did not run (its log says why).
		missing: awscloudwatch.TreatMissingData_BREACHING,
		why: fmt.Sprintf("No peer in %s has reported its pinset for %d minutes, or this region's check could not run (see its function's log): the other region's peers, its collectors or its CloudWatch are down.",
			p.OtherRegion, monitoringspec.RegionNotReportingPeriods*monitoringspec.RegionLagScheduleMinutes),
		runbook: monitoringspec.RunbookRegionNotReporting,
		summary: true,
	})
	out.Alarms = a.all
	return out, nil
}
