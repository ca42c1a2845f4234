package monitoring

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/kmspolicy"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
)

// newTopic creates an alarm topic encrypted with its own key, which the
// CloudWatch alarms of this account may use to publish (the key policy's
// grant to cloudwatch.amazonaws.com: without it an alarm's notification is
// dropped silently).
func newTopic(scope constructs.Construct, displayName, email string) awssns.Topic {
	key := awskms.NewKey(scope, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String(displayName + ": encrypts alarm notifications"),
		EnableKeyRotation: jsii.Bool(true),
		// It protects notifications in flight only; nothing stays encrypted
		// under it once the topic is gone.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	kmspolicy.LimitGrantsToAWSServices(key)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Stack_Of(scope).Account()}},
	}), nil)
	// SNS display names have at most 100 characters; the alarms' names
	// carry the whole stack name anyway.
	if len(displayName) > 100 {
		displayName = displayName[:100]
	}
	topic := awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String(displayName),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	if email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	return topic
}

// alarms creates alarms that all notify one topic, on ALARM and on OK.
type alarms struct {
	scope  constructs.Construct
	stack  string
	action awscloudwatchactions.SnsAction
	all    []awscloudwatch.Alarm
	// summary are the alarms the dashboard shows when not all of them fit
	// (alarm.summary).
	summary []awscloudwatch.IAlarm
	// runbooks is the runbooks page every description links.
	runbooks string
}

// runbookURL is url, or the default page when empty.
func runbookURL(url string) string {
	if url == "" {
		return monitoringspec.DefaultRunbookURL
	}
	return url
}

// alarm describes one alarm; why and runbook end up in its description.
type alarm struct {
	subject, what string
	metric        awscloudwatch.IMetric
	threshold     float64
	operator      awscloudwatch.ComparisonOperator
	periods       int
	// datapoints of periods must breach; default all of them.
	datapoints   int
	missing      awscloudwatch.TreatMissingData
	why, runbook string
	// summary: the dashboard shows this alarm even when it cannot show
	// every alarm (a peer down, the load balancer failing).
	summary bool
}

func (a *alarms) add(id string, spec alarm) awscloudwatch.Alarm {
	name := monitoringspec.AlarmName(a.stack, spec.subject, spec.what)
	if spec.datapoints == 0 {
		spec.datapoints = spec.periods
	}
	if spec.missing == "" {
		spec.missing = awscloudwatch.TreatMissingData_NOT_BREACHING
	}
	al := awscloudwatch.NewAlarm(a.scope, jsii.String(id), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(name),
		AlarmDescription:   jsii.String(fmt.Sprintf("%s Runbook: %s%s", spec.why, a.runbooks, spec.runbook)),
		Metric:             spec.metric,
		Threshold:          jsii.Number(spec.threshold),
		ComparisonOperator: spec.operator,
		EvaluationPeriods:  jsii.Number(float64(spec.periods)),
		DatapointsToAlarm:  jsii.Number(float64(spec.datapoints)),
		TreatMissingData:   spec.missing,
	})
	al.AddAlarmAction(a.action)
	al.AddOkAction(a.action)
	a.all = append(a.all, al)
	if spec.summary {
		a.summary = append(a.summary, al)
	}
	return al
}

func minutes(n int) awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(float64(n))) }

func metric(namespace, name, statistic string, period awscdk.Duration, dimensions map[string]*string) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(namespace),
		MetricName:    jsii.String(name),
		DimensionsMap: &dimensions,
		Statistic:     jsii.String(statistic),
		Period:        period,
	})
}

// errorRate is 100 * errors / requests, and 0 below the request minimum so
// that two failed requests out of three do not page anyone.
func errorRate(label string, errors, requests awscloudwatch.IMetric, period awscdk.Duration) awscloudwatch.MathExpression {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf("IF(requests >= %d, 100 * FILL(errors, 0) / requests, 0)", monitoringspec.ErrorRateMinimumRequests)),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"errors":   errors,
			"requests": requests,
		},
		Label:  jsii.String(label),
		Period: period,
	})
}

var (
	atLeast = awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	above   = awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	below   = awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD
)
