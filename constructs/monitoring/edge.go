package monitoring

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// EdgeProps configure the us-east-1 monitoring of the CloudFront edge.
type EdgeProps struct {
	// StackName prefixes every alarm name (the cluster stack's name).
	// Required.
	StackName string
	// AlarmEmail subscribes to this region's topic when set.
	AlarmEmail string
	// RunbookURL: as Props.RunbookURL.
	RunbookURL string
	// Distributions to watch. Required.
	Distributions []Distribution
	// AuthFunction is the Lambda@Edge authenticator (its us-east-1
	// function). Optional.
	AuthFunction awslambda.IFunction
	// PSA, optional, names the distribution serving the Pinning Service
	// API: its refused answers get an alarm (PSA.TargetGroup is the cluster
	// region's, not checked here).
	PSA *PSA
}

// Validate reports every problem at once.
func (p *EdgeProps) Validate() error {
	if p == nil {
		return errors.New("monitoring.EdgeProps: required (nil)")
	}
	l := propcheck.New("monitoring.EdgeProps")
	if p.StackName == "" {
		l.Add("StackName", "required")
	}
	if err := monitoringspec.ValidateEmail(p.AlarmEmail); err != nil {
		l.Add("AlarmEmail", "%v", err)
	}
	if err := monitoringspec.ValidateRunbookURL(p.RunbookURL); err != nil {
		l.Add("RunbookURL", "%v", err)
	}
	if len(p.Distributions) == 0 {
		l.Add("Distributions", "required: at least one")
	}
	for i, d := range p.Distributions {
		if d.Name == "" || d.Distribution == nil {
			l.Add(fmt.Sprintf("Distributions[%d]", i), "needs a Name and a Distribution")
		}
	}
	p.PSA.validate(l, p.Distributions, nil, false)
	return l.Err()
}

// Edge is the us-east-1 alarm topic and the edge's alarms.
type Edge struct {
	constructs.Construct
	Topic  awssns.Topic
	Alarms []awscloudwatch.Alarm
}

// NewEdge creates the edge's alarms. scope must be in a us-east-1 stack:
// CloudFront publishes its metrics there only, and an alarm must be in its
// metric's region.
func NewEdge(scope constructs.Construct, id string, props *EdgeProps) (*Edge, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	if region := awscdk.Stack_Of(scope).Region(); region == nil || *region != edgespec.Region {
		return nil, fmt.Errorf("monitoring.NewEdge: %q must be in a %s stack (CloudFront's metrics are there only)", id, edgespec.Region)
	}
	p := *props
	this := constructs.NewConstruct(scope, jsii.String(id))
	topic := newTopic(this, p.StackName+" edge alarms", p.AlarmEmail)
	a := &alarms{scope: this, stack: p.StackName, action: awscloudwatchactions.NewSnsAction(topic), runbooks: runbookURL(p.RunbookURL)}
	period := minutes(5)

	for _, d := range p.Distributions {
		name := strings.ToUpper(d.Name[:1]) + d.Name[1:]
		dims := map[string]*string{"DistributionId": d.Distribution.DistributionId(), "Region": jsii.String("Global")}
		// Cache hit rate and the per-code error rates are CloudFront's
		// additional metrics: on for the dashboard (billed per metric).
		awscloudfront.NewCfnMonitoringSubscription(this, jsii.String(name+"AdditionalMetrics"), &awscloudfront.CfnMonitoringSubscriptionProps{
			DistributionId: d.Distribution.DistributionId(),
			MonitoringSubscription: &awscloudfront.CfnMonitoringSubscription_MonitoringSubscriptionProperty{
				RealtimeMetricsSubscriptionConfig: &awscloudfront.CfnMonitoringSubscription_RealtimeMetricsSubscriptionConfigProperty{
					RealtimeMetricsSubscriptionStatus: jsii.String("Enabled"),
				},
			},
		})
		a.add(name+"ErrorRate", alarm{
			subject: "cloudfront-" + d.Name, what: "5xx-rate",
			metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				// 5xxErrorRate is a percentage already; below the request
				// minimum a handful of failures is not an outage.
				Expression: jsii.String(fmt.Sprintf("IF(requests >= %d, rate, 0)", monitoringspec.ErrorRateMinimumRequests)),
				UsingMetrics: &map[string]awscloudwatch.IMetric{
					"rate":     metric("AWS/CloudFront", "5xxErrorRate", "Average", period, dims),
					"requests": metric("AWS/CloudFront", "Requests", "Sum", period, dims),
				},
				Label:  jsii.String(d.Name + " 5xx %"),
				Period: period,
			}),
			threshold: monitoringspec.ErrorRatePercent, operator: above, periods: monitoringspec.ErrorRatePeriods,
			why:     fmt.Sprintf("More than %d %% of the %s distribution's responses were 5xx (with at least %d requests) for %d minutes: the origin (load balancer, peers) or the authenticator fails.", monitoringspec.ErrorRatePercent, d.Name, monitoringspec.ErrorRateMinimumRequests, monitoringspec.ErrorRatePeriods*5),
			runbook: monitoringspec.RunbookEdge,
		})
	}
	if fn := p.AuthFunction; fn != nil {
		sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period}
		a.add("AuthErrors", alarm{
			subject: "edge-auth", what: "errors",
			metric:    fn.MetricErrors(sum),
			threshold: monitoringspec.EdgeFunctionErrors, operator: atLeast, periods: monitoringspec.EdgeFunctionPeriods,
			why:     fmt.Sprintf("The Lambda@Edge authenticator failed %d or more times per 5 minutes for %d minutes (executions served from us-east-1): viewers get 503.", monitoringspec.EdgeFunctionErrors, monitoringspec.EdgeFunctionPeriods*5),
			runbook: monitoringspec.RunbookEdge,
		})
		a.add("AuthThrottles", alarm{
			subject: "edge-auth", what: "throttles",
			metric:    fn.MetricThrottles(sum),
			threshold: monitoringspec.EdgeFunctionErrors, operator: atLeast, periods: monitoringspec.EdgeFunctionPeriods,
			why:     fmt.Sprintf("The Lambda@Edge authenticator was throttled %d or more times per 5 minutes for %d minutes: the account's concurrency is exhausted and viewers get errors.", monitoringspec.EdgeFunctionErrors, monitoringspec.EdgeFunctionPeriods*5),
			runbook: monitoringspec.RunbookEdge,
		})
	}
	if p.PSA != nil {
		psaEdgeAlarms(a, p.PSA, p.Distributions)
	}
	return &Edge{Construct: this, Topic: topic, Alarms: a.all}, nil
}
