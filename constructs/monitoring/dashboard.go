package monitoring

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
)

// Dashboard section titles, in order.
const (
	SectionAlarms       = "Alarms"
	SectionNodes        = "Nodes"
	SectionFileSystems  = "File systems"
	SectionLoadBalancer = "Load balancer"
	SectionCluster      = "Cluster (ipfs-cluster metrics)"
	SectionEdge         = "Edge (CloudFront, us-east-1)"
)

func section(title, body string) awscloudwatch.IWidget {
	text := "## " + title
	if body != "" {
		text += "\n" + body
	}
	return awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Markdown: jsii.String(text), Width: jsii.Number(24), Height: jsii.Number(1)})
}

func graph(title string, metrics []awscloudwatch.IMetric, region string) awscloudwatch.IWidget {
	props := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &metrics, Width: jsii.Number(8), Height: jsii.Number(6)}
	if region != "" {
		props.Region = jsii.String(region)
	}
	return awscloudwatch.NewGraphWidget(props)
}

func labelled(m awscloudwatch.Metric, label string) awscloudwatch.IMetric {
	return m.With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
}

func dashboard(scope constructs.Construct, p Props, all []awscloudwatch.Alarm) awscloudwatch.Dashboard {
	per := func(f func(n Node) awscloudwatch.IMetric) []awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for _, n := range p.Nodes {
			out = append(out, f(n))
		}
		return out
	}
	one := minutes(1)
	five := minutes(5)

	alarmList := make([]awscloudwatch.IAlarm, len(all))
	for i, a := range all {
		alarmList[i] = a
	}
	rows := [][]awscloudwatch.IWidget{
		{section(SectionAlarms, "The edge's alarms (CloudFront, Lambda@Edge) are in us-east-1, in the stack's monitoring sibling.")},
		{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("Alarms"), Alarms: &alarmList, Width: jsii.Number(24), Height: jsii.Number(6),
		})},
		{section(SectionNodes, "")},
		{
			graph("Running tasks", per(func(n Node) awscloudwatch.IMetric {
				return labelled(serviceMetric(n, "RunningTaskCount", "Minimum", one), n.Name)
			}), ""),
			graph("CPU utilized (units)", per(func(n Node) awscloudwatch.IMetric {
				return labelled(serviceMetric(n, "CpuUtilized", "Average", one), n.Name)
			}), ""),
			graph("Memory utilized (MiB)", per(func(n Node) awscloudwatch.IMetric {
				return labelled(serviceMetric(n, "MemoryUtilized", "Average", one), n.Name)
			}), ""),
		},
		{section(SectionFileSystems, "")},
		{
			graph("Metered I/O (bytes per minute)", per(func(n Node) awscloudwatch.IMetric {
				return labelled(efsMetric(n, "MeteredIOBytes", "Sum", one), n.Name)
			}), ""),
			graph("PercentIOLimit", per(func(n Node) awscloudwatch.IMetric {
				return labelled(efsMetric(n, "PercentIOLimit", "Maximum", five), n.Name)
			}), ""),
			graph("Stored bytes", per(func(n Node) awscloudwatch.IMetric {
				return labelled(efsMetric(n, "StorageBytes", "Maximum", minutes(15)), n.Name)
			}), ""),
		},
		{section(SectionLoadBalancer, "")},
	}
	tgMetrics := func(f func(tg TargetGroup) awscloudwatch.IMetric) []awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for _, tg := range p.TargetGroups {
			out = append(out, f(tg))
		}
		return out
	}
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: one}
	rows = append(rows, []awscloudwatch.IWidget{
		graph("Requests per target group", tgMetrics(func(tg TargetGroup) awscloudwatch.IMetric {
			return labelled(tg.Group.Metrics().RequestCount(sum), tg.Name)
		}), ""),
		graph("Target response time p99 (s)", tgMetrics(func(tg TargetGroup) awscloudwatch.IMetric {
			return labelled(tg.Group.Metrics().TargetResponseTime(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: one}), tg.Name)
		}), ""),
		graph("Target 5xx", tgMetrics(func(tg TargetGroup) awscloudwatch.IMetric {
			return labelled(tg.Group.Metrics().HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_5XX_COUNT, sum), tg.Name)
		}), ""),
	})
	cluster := func(name, statistic string) []awscloudwatch.IMetric {
		return per(func(n Node) awscloudwatch.IMetric {
			return labelled(clusterMetric(p, n.Name, name, statistic, one), n.Name)
		})
	}
	rows = append(rows,
		[]awscloudwatch.IWidget{section(SectionCluster, "Scraped from each peer's metrics endpoint by the collector in its task; `up` = 1 while the peer answers.")},
		[]awscloudwatch.IWidget{
			graph("Peers up", cluster(monitoringspec.MetricUp, "Minimum"), ""),
			graph("Pins in the pinset", cluster(monitoringspec.MetricPins, "Average"), ""),
			graph("Pins in error", cluster(monitoringspec.MetricPinError, "Maximum"), ""),
		},
		[]awscloudwatch.IWidget{
			graph("Pins queued", cluster(monitoringspec.MetricPinQueued, "Maximum"), ""),
			graph("Pins pinning", cluster(monitoringspec.MetricPinning, "Maximum"), ""),
			graph("kubo pins", cluster(monitoringspec.MetricIpfsPins, "Average"), ""),
		},
	)
	if len(p.Distributions) > 0 {
		cf := func(name, statistic string) []awscloudwatch.IMetric {
			var out []awscloudwatch.IMetric
			for _, d := range p.Distributions {
				out = append(out, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
					Namespace:     jsii.String("AWS/CloudFront"),
					MetricName:    jsii.String(name),
					DimensionsMap: &map[string]*string{"DistributionId": d.Distribution.DistributionId(), "Region": jsii.String("Global")},
					Statistic:     jsii.String(statistic),
					Period:        five,
					Region:        jsii.String(edgespec.Region),
					Label:         jsii.String(d.Name),
				}))
			}
			return out
		}
		rows = append(rows,
			[]awscloudwatch.IWidget{section(SectionEdge, "CloudFront publishes its metrics in us-east-1 only; cache hit rate is one of the additional metrics the monitoring sibling stack turns on.")},
			[]awscloudwatch.IWidget{
				graph("Requests", cf("Requests", "Sum"), edgespec.Region),
				graph("Cache hit rate (%)", cf("CacheHitRate", "Average"), edgespec.Region),
				graph("5xx error rate (%)", cf("5xxErrorRate", "Average"), edgespec.Region),
			},
		)
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	return awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(p.StackName),
		Widgets:       &widgets,
	})
}
