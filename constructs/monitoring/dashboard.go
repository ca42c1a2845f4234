package monitoring

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// Dashboard section titles, in order.
const (
	SectionAlarms       = "Alarms"
	SectionNodes        = "Nodes"
	SectionFileSystems  = "File systems"
	SectionLoadBalancer = "Load balancer"
	SectionCluster      = "Cluster (ipfs-cluster metrics)"
	SectionRegions      = "Regions (the pinset in each)"
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

// search graphs every time series a CloudWatch search expression finds,
// each labelled with the value of the dimension that tells them apart: a
// graph whose size does not grow with the node count, and that shows a
// node the moment it reports.
func search(query, statistic string, period awscdk.Duration, labelDimension string) awscloudwatch.IMetric {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf("SEARCH('%s', '%s', %d)", query, statistic, int(*period.ToSeconds(nil)))),
		Label:      jsii.String(fmt.Sprintf("${PROP('Dim.%s')}", labelDimension)),
		Period:     period,
	})
}

// serviceSearch is a Container Insights metric of every service of the
// ECS cluster: the peers' services are its only services.
func serviceSearch(p Props, name, statistic string, period awscdk.Duration) []awscloudwatch.IMetric {
	return []awscloudwatch.IMetric{search(
		fmt.Sprintf(`{ECS/ContainerInsights,ClusterName,ServiceName} MetricName="%s" ClusterName="%s"`, name, *p.Cluster.ClusterName()),
		statistic, period, "ServiceName")}
}

// clusterSearch is one of the collector's metrics of every peer of the
// stack.
func clusterSearch(p Props, name, statistic string, period awscdk.Duration) []awscloudwatch.IMetric {
	return []awscloudwatch.IMetric{search(
		fmt.Sprintf(`{%s,%s,%s} MetricName="%s" %s="%s"`, monitoringspec.Namespace, monitoringspec.DimensionPeer, monitoringspec.DimensionStack, name, monitoringspec.DimensionStack, p.StackName),
		statistic, period, monitoringspec.DimensionPeer)}
}

// fileSystemSearches are an EFS metric of the nodes' file systems. EFS
// metrics have no dimension but the file system's ID, so the searches
// list the IDs, as many per search as CloudWatch's query length allows.
func fileSystemSearches(fileSystemIDs []*string, name, statistic string, period awscdk.Duration) []awscloudwatch.IMetric {
	schema, term := "{AWS/EFS,FileSystemId}", fmt.Sprintf(`MetricName="%s"`, name)
	if class, ok := efsStorageClass(name); ok {
		schema, term = "{AWS/EFS,FileSystemId,StorageClass}", term+fmt.Sprintf(` StorageClass="%s"`, class)
	}
	prefix := schema + " " + term + " ("
	const or = " OR "
	perSearch := (monitoringspec.SearchMaxQueryLength - len(prefix) - len(")") + len(or)) / (len(`""`) + monitoringspec.MaxFileSystemIDLength + len(or))
	var out []awscloudwatch.IMetric
	for first := 0; first < len(fileSystemIDs); first += perSearch {
		var ids []string
		for _, id := range fileSystemIDs[first:min(first+perSearch, len(fileSystemIDs))] {
			ids = append(ids, `"`+*id+`"`)
		}
		out = append(out, search(prefix+strings.Join(ids, or)+")", statistic, period, "FileSystemId"))
	}
	return out
}

// alarmWidgets show every alarm when they fit one alarm status widget
// (monitoringspec.AlarmWidgetMaxAlarms); otherwise the summary alarms (a
// peer down, the load balancer failing, the other region behind or
// silent), never more than a widget holds
// per widget, and how to list the rest. Listing every alarm of a large
// cluster would take several widgets, and for each node in a nested stack
// an output per alarm: bytes the cluster stack's template cannot spare.
func alarmWidgets(p Props, all, summary []awscloudwatch.IAlarm) [][]awscloudwatch.IWidget {
	shown, title := all, "Alarms"
	var rows [][]awscloudwatch.IWidget
	if len(all) > monitoringspec.AlarmWidgetMaxAlarms {
		shown, title = summary, "Alarms: peers down, load balancer"
		others := "the load balancer's"
		if p.OtherRegion != "" {
			title += ", " + p.OtherRegion
			others += " and those about " + p.OtherRegion
		}
		rows = append(rows, []awscloudwatch.IWidget{awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
			Markdown: jsii.String(fmt.Sprintf("%d alarms are more than an alarm widget holds (%d): shown are each node's `%s` and `%s` and %s. "+
				"Every alarm in ALARM: `aws cloudwatch describe-alarms --state-value ALARM --alarm-name-prefix %s`; "+
				"every alarm of node *i*: `aws cloudwatch describe-alarms --alarm-name-prefix %s`.",
				len(all), monitoringspec.AlarmWidgetMaxAlarms, whatTasksBelowDesired, whatNotReporting, others, monitoringspec.AlarmNamePrefix(p.StackName, ""), monitoringspec.AlarmNamePrefix(p.StackName, "node<i>"))),
			Width: jsii.Number(24), Height: jsii.Number(2),
		})})
	}
	for first := 0; first < len(shown); first += monitoringspec.AlarmWidgetMaxAlarms {
		alarms := shown[first:min(first+monitoringspec.AlarmWidgetMaxAlarms, len(shown))]
		rows = append(rows, []awscloudwatch.IWidget{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String(title), Alarms: &alarms, Width: jsii.Number(24), Height: jsii.Number(6),
		})})
	}
	return rows
}

func dashboard(scope constructs.Construct, p Props, all, summary []awscloudwatch.IAlarm, fileSystemIDs []*string, lag *RegionLag) awscloudwatch.Dashboard {
	one := minutes(1)
	five := minutes(5)

	rows := [][]awscloudwatch.IWidget{
		{section(SectionAlarms, "The edge's alarms (CloudFront, Lambda@Edge) are in us-east-1, in the stack's monitoring sibling.")},
	}
	rows = append(rows, alarmWidgets(p, all, summary)...)
	rows = append(rows,
		[]awscloudwatch.IWidget{section(SectionNodes, "Per ECS service (one per node); the stack's `"+outputs.NodeServiceNames+"` output lists them in node order.")},
		[]awscloudwatch.IWidget{
			graph("Running tasks", serviceSearch(p, "RunningTaskCount", "Minimum", one), ""),
			graph("CPU utilized (units)", serviceSearch(p, "CpuUtilized", "Average", one), ""),
			graph("Memory utilized (MiB)", serviceSearch(p, "MemoryUtilized", "Average", one), ""),
		},
		[]awscloudwatch.IWidget{section(SectionFileSystems, "Per file system ID; the stack's `"+outputs.FileSystemIds+"` output lists them in node order.")},
		[]awscloudwatch.IWidget{
			graph("Metered I/O (bytes per minute)", fileSystemSearches(fileSystemIDs, "MeteredIOBytes", "Sum", one), ""),
			graph("PercentIOLimit", fileSystemSearches(fileSystemIDs, "PercentIOLimit", "Maximum", five), ""),
			graph("Stored bytes", fileSystemSearches(fileSystemIDs, "StorageBytes", "Maximum", minutes(15)), ""),
		},
		[]awscloudwatch.IWidget{section(SectionLoadBalancer, "")},
	)
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
		return clusterSearch(p, name, statistic, one)
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
	if lag != nil {
		rows = append(rows,
			[]awscloudwatch.IWidget{section(SectionRegions, fmt.Sprintf("The most pins any peer of each region holds, each read in its region; every %d minutes this region's check publishes how many pins %s lacks.", monitoringspec.RegionLagScheduleMinutes, p.OtherRegion))},
			[]awscloudwatch.IWidget{
				graph("Pinset per region", lag.Pinsets, ""),
				graph("Pins "+p.OtherRegion+" lacks", []awscloudwatch.IMetric{lag.Lag}, ""),
				graph(p.OtherRegion+" reporting (1 = yes)", []awscloudwatch.IMetric{lag.Reporting}, ""),
			},
		)
	}
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
	rows = append(rows, psaDashboardRows(p)...)
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	name := p.DashboardName
	if name == "" {
		name = p.StackName
	}
	return awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(name),
		Widgets:       &widgets,
	})
}
