package monitoring

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// PSA names the Pinning Service API's parts among the distributions and
// target groups the monitoring already watches.
//
// Its token refusals are answered by the Lambda@Edge function at the edge:
// the load balancer never sees them, and the function's logs land in the
// region of whichever edge location served the request, so no single log
// group can carry a metric filter. CloudFront's additional metric
// 401ErrorRate (per distribution, in us-east-1, already subscribed for the
// dashboard) counts every one of them, together with the REST API's
// refused Basic credentials on the same distribution. The PSA layer's own
// 5xx come from its target group (the target-group alarms every group in
// Props.TargetGroups gets).
type PSA struct {
	// Distribution is the Name, in Distributions, of the distribution that
	// serves /psa (the API's). Required.
	Distribution string
	// TargetGroup is the Name, in Props.TargetGroups, of the PSA layer's
	// target group; optional (its graphs on the dashboard).
	TargetGroup string
}

// validate checks that the names exist: the distribution always, the
// target group only where target groups are given (the cluster region's
// monitoring; the edge's has none).
func (p *PSA) validate(l *propcheck.List, distributions []Distribution, targetGroups []TargetGroup, withTargetGroup bool) {
	if p == nil {
		return
	}
	if psaDistribution(p, distributions) == nil {
		l.Add("PSA.Distribution", "%q is not the Name of one of Distributions", p.Distribution)
	}
	if withTargetGroup && p.TargetGroup != "" && psaTargetGroup(p.TargetGroup, targetGroups) == nil {
		l.Add("PSA.TargetGroup", "%q is not the Name of one of TargetGroups", p.TargetGroup)
	}
}

func psaTargetGroup(name string, groups []TargetGroup) awselasticloadbalancingv2.ApplicationTargetGroup {
	for _, tg := range groups {
		if tg.Name == name {
			return tg.Group
		}
	}
	return nil
}

func psaDistribution(p *PSA, distributions []Distribution) *Distribution {
	for i := range distributions {
		if distributions[i].Name == p.Distribution {
			return &distributions[i]
		}
	}
	return nil
}

// psa401Rate is the 401 share of a distribution's answers, 0 below the
// request minimum.
func psa401Rate(d *Distribution, region string) awscloudwatch.MathExpression {
	period := minutes(5)
	dims := map[string]*string{"DistributionId": d.Distribution.DistributionId(), "Region": jsii.String("Global")}
	m := func(name, statistic string) awscloudwatch.Metric {
		props := &awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/CloudFront"), MetricName: jsii.String(name), DimensionsMap: &dims,
			Statistic: jsii.String(statistic), Period: period,
		}
		if region != "" {
			props.Region = jsii.String(region)
		}
		return awscloudwatch.NewMetric(props)
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf("IF(requests >= %d, rate, 0)", monitoringspec.ErrorRateMinimumRequests)),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"rate":     m("401ErrorRate", "Average"),
			"requests": m("Requests", "Sum"),
		},
		Label:  jsii.String(d.Name + " 401 %"),
		Period: period,
	})
}

// psaEdgeAlarms adds the refused-clients alarm (us-east-1).
func psaEdgeAlarms(a *alarms, p *PSA, distributions []Distribution) {
	d := psaDistribution(p, distributions)
	if d == nil {
		return
	}
	a.add("PsaAuthFailures", alarm{
		subject: "psa", what: "auth-failures",
		// An alarm's metric is in the alarm's region: no Region here.
		metric:    psa401Rate(d, ""),
		threshold: monitoringspec.PSAAuthFailurePercent, operator: above, periods: monitoringspec.PSAAuthFailurePeriods,
		why: fmt.Sprintf("More than %d %% of the %s distribution's answers were 401 (with at least %d requests) for %d minutes: Pinning Service API clients with a revoked, expired or rotated-away token, or REST API clients with old credentials, retry; or someone guesses.",
			monitoringspec.PSAAuthFailurePercent, d.Name, monitoringspec.ErrorRateMinimumRequests, monitoringspec.PSAAuthFailurePeriods*5),
		runbook: monitoringspec.RunbookPSARefused,
	})
}

// SectionPSA is the dashboard section of the Pinning Service API.
const SectionPSA = "Pinning Service API"

// psaDashboardRows are the dashboard's Pinning Service API rows.
func psaDashboardRows(p Props) [][]awscloudwatch.IWidget {
	if p.PSA == nil {
		return nil
	}
	d := psaDistribution(p.PSA, p.Distributions)
	if d == nil {
		return nil
	}
	row := []awscloudwatch.IWidget{graph("Refused (401) answers of "+d.Name+" (%)", []awscloudwatch.IMetric{psa401Rate(d, edgespec.Region)}, edgespec.Region)}
	if tg := psaTargetGroup(p.PSA.TargetGroup, p.TargetGroups); tg != nil {
		five := minutes(5)
		sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}
		m := tg.Metrics()
		row = append(row, graph("PSA layer answers", []awscloudwatch.IMetric{
			labelled(m.RequestCount(sum), "requests"),
			labelled(m.HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_4XX_COUNT, sum), "4xx"),
			labelled(m.HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_5XX_COUNT, sum), "5xx"),
		}, ""))
	}
	return [][]awscloudwatch.IWidget{
		{section(SectionPSA, "Token refusals are answered at the edge (CloudFront's 401 rate of the distribution, Basic refusals of the REST API included); the PSA layer's own answers come from its target group.")},
		row,
	}
}
