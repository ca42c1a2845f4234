// Package monitoring provides a cluster's alarms, their topic and its
// dashboard in the cluster's region (New), and the alarms of the CloudFront
// edge in us-east-1 (NewEdge), where CloudFront's metrics live and an alarm
// must sit beside its metric. Thresholds and their reasons are in
// monitoringspec; README "Alarms" tabulates them.
package monitoring

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
)

// Node is what the monitoring needs of one peer.
type Node struct {
	// Name is the peer's name (node<i>), the "peer" dimension of its
	// cluster metrics and part of its alarms' names.
	Name string
	// Service runs the peer's task.
	Service awsecs.IBaseService
	// FileSystem holds the peer's data.
	FileSystem awsefs.IFileSystem
	// ClusterLogGroup holds the cluster container's log.
	ClusterLogGroup awslogs.ILogGroup
	// Scope, when set, holds the node's alarms and metric filters (under a
	// construct with the monitoring's id): a node in a nested stack of its
	// own keeps them beside it, within that stack's limits. Default: the
	// monitoring construct.
	Scope constructs.Construct
}

// TargetGroup is one target group of the load balancer, by name.
type TargetGroup struct {
	Name  string
	Group awselasticloadbalancingv2.ApplicationTargetGroup
}

// Distribution is one CloudFront distribution, by name; its metrics live in
// us-east-1.
type Distribution struct {
	Name         string
	Distribution awscloudfront.IDistribution
}

// Props configure the cluster region's monitoring.
type Props struct {
	// StackName prefixes every alarm name and is the "stack" dimension of
	// the cluster's metrics. Required.
	StackName string
	// DashboardName names the dashboard (dashboards are global: each
	// region's monitoring of one cluster needs its own). Default StackName.
	DashboardName string
	// AlarmEmail subscribes to the topic when set.
	AlarmEmail string
	// RunbookURL is the runbooks page every alarm's description links, with
	// the alarm's section anchor. Default: this project's docs/runbooks.md
	// (monitoringspec.DefaultRunbookURL); a fork names its own.
	RunbookURL string
	// Cluster is the ECS cluster of the peers' services. Required.
	Cluster awsecs.ICluster
	// Nodes are the peers, in index order. Required.
	Nodes []Node
	// TargetGroups of the load balancer. Required.
	TargetGroups []TargetGroup
	// Bursting is true when the file systems use bursting throughput (only
	// then do burst credits matter).
	Bursting bool
	// StorageMaxBytes is kubo's StorageMax in bytes
	// (nodespec.StorageMaxBytes). Required.
	StorageMaxBytes uint64
	// LogRetention of the stopped-task log. Default three months.
	LogRetention awslogs.RetentionDays
	// Distributions are shown on the dashboard (us-east-1 widgets).
	Distributions []Distribution
	// OtherRegion, for a cluster with peers in two regions, is the region
	// of the peers this monitoring does not watch. When set, New adds the
	// cross-region pinset check (NewRegionLag: its function and its alarms
	// "<stack>-<OtherRegion>-pinset-behind" and
	// "<stack>-<OtherRegion>-not-reporting") and a dashboard section with
	// both regions' pinsets. This region is the stack's, which must be
	// explicit. Default: none (one region).
	OtherRegion string
	// RegionLagScope, with OtherRegion, is where the cross-region check is
	// built: a stack of its own in this region keeps its resources out of
	// the cluster stack, which needs them for its nodes. Default: inside
	// this construct.
	RegionLagScope constructs.Construct
	// OtherRegionStackName is the "stack" dimension of the other region's
	// peers' metrics (their collectors' stack label). Default: StackName.
	OtherRegionStackName string
	// PSA, optional, names the Pinning Service API's distribution and
	// target group for the dashboard's PSA rows.
	PSA *PSA
}

// dashboardName is CloudWatch's rule for a dashboard's name.
var dashboardName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// Validate reports every problem at once.
func (p *Props) Validate() error {
	if p == nil {
		return errors.New("monitoring.Props: required (nil)")
	}
	l := propcheck.New("monitoring.Props")
	if p.StackName == "" {
		l.Add("StackName", "required")
	}
	if p.DashboardName != "" && !dashboardName.MatchString(p.DashboardName) {
		l.Add("DashboardName", "%q is not a dashboard name; allowed: up to 255 letters, digits, '-' and '_'", p.DashboardName)
	}
	if err := monitoringspec.ValidateEmail(p.AlarmEmail); err != nil {
		l.Add("AlarmEmail", "%v", err)
	}
	if err := monitoringspec.ValidateRunbookURL(p.RunbookURL); err != nil {
		l.Add("RunbookURL", "%v", err)
	}
	if p.Cluster == nil {
		l.Add("Cluster", "required")
	}
	if len(p.Nodes) == 0 {
		l.Add("Nodes", "required: at least one")
	}
	seen := map[string]bool{}
	for i, n := range p.Nodes {
		field := fmt.Sprintf("Nodes[%d]", i)
		if n.Name == "" || seen[n.Name] {
			l.Add(field+".Name", "%q is empty or repeated; allowed: one distinct name per node", n.Name)
		}
		seen[n.Name] = true
		for name, set := range map[string]bool{"Service": n.Service != nil, "FileSystem": n.FileSystem != nil, "ClusterLogGroup": n.ClusterLogGroup != nil} {
			if !set {
				l.Add(field+"."+name, "required")
			}
		}
	}
	if len(p.TargetGroups) == 0 {
		l.Add("TargetGroups", "required: at least one")
	}
	for i, tg := range p.TargetGroups {
		if tg.Name == "" || tg.Group == nil {
			l.Add(fmt.Sprintf("TargetGroups[%d]", i), "needs a Name and a Group")
		}
	}
	for i, d := range p.Distributions {
		if d.Name == "" || d.Distribution == nil {
			l.Add(fmt.Sprintf("Distributions[%d]", i), "needs a Name and a Distribution")
		}
	}
	if p.StorageMaxBytes == 0 {
		l.Add("StorageMaxBytes", "required: kubo's StorageMax in bytes")
	}
	if p.OtherRegion != "" {
		if err := partition.ValidateRegion(p.OtherRegion); err != nil {
			l.Add("OtherRegion", "%v", err)
		}
	} else if p.OtherRegionStackName != "" {
		l.Add("OtherRegionStackName", "%q without OtherRegion; allowed: empty, or with OtherRegion", p.OtherRegionStackName)
	}
	p.PSA.validate(l, p.Distributions, p.TargetGroups, true)
	return l.Err()
}

// Monitoring is the cluster region's alarm topic, alarms and dashboard.
type Monitoring struct {
	constructs.Construct
	Topic     awssns.Topic
	Alarms    []awscloudwatch.Alarm
	Dashboard awscloudwatch.Dashboard
	// RegionLag is the cross-region pinset check, nil without
	// Props.OtherRegion.
	RegionLag *RegionLag
}

// New creates the topic, every alarm of the cluster region and the
// dashboard.
func New(scope constructs.Construct, id string, props *Props) (*Monitoring, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	p := *props
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	this := constructs.NewConstruct(scope, jsii.String(id))
	topic := newTopic(this, p.StackName+" alarms", p.AlarmEmail)
	a := &alarms{scope: this, stack: p.StackName, action: awscloudwatchactions.NewSnsAction(topic), runbooks: runbookURL(p.RunbookURL)}

	stopped := stoppedTasks(this, p)
	// What the dashboard reads of each node.
	var fileSystemIDs []*string
	for i, n := range p.Nodes {
		if n.Scope == nil {
			nodeAlarms(a, p, i, n, stopped)
			fileSystemIDs = append(fileSystemIDs, n.FileSystem.FileSystemId())
			continue
		}
		beside := &alarms{scope: constructs.NewConstruct(n.Scope, jsii.String(id)), stack: a.stack, action: a.action, runbooks: a.runbooks}
		nodeAlarms(beside, p, i, n, stopped)
		a.all = append(a.all, beside.all...)
		for _, al := range beside.summary {
			name := *al.Node().Id()
			a.summary = append(a.summary, awscloudwatch.Alarm_FromAlarmArn(this, jsii.String(name), fromNodeStack(n.Scope, name+"Arn", al.AlarmArn())))
		}
		fileSystemIDs = append(fileSystemIDs, fromNodeStack(n.Scope, "DashboardFileSystemId", n.FileSystem.FileSystemId()))
	}
	for _, tg := range p.TargetGroups {
		targetGroupAlarms(a, tg)
	}

	var lag *RegionLag
	var elsewhere []awscloudwatch.IAlarm
	if p.OtherRegion != "" {
		var err error
		scope := constructs.Construct(this)
		if p.RegionLagScope != nil {
			scope = p.RegionLagScope
		}
		lag, err = NewRegionLag(scope, "RegionLag", &RegionLagProps{
			StackName:      p.StackName,
			OtherRegion:    p.OtherRegion,
			OtherStackName: p.OtherRegionStackName,
			Topic:          topic,
			RunbookURL:     p.RunbookURL,
			LogRetention:   p.LogRetention,
		})
		if err != nil {
			return nil, err
		}
		for _, al := range lag.Alarms {
			if p.RegionLagScope == nil {
				a.all = append(a.all, al)
				a.summary = append(a.summary, al)
			}
		}
		if p.RegionLagScope != nil {
			// By name: a reference would make this stack depend on the
			// check's, which depends on this one's topic.
			for _, what := range []string{whatPinsetBehind, whatNotReporting} {
				name := monitoringspec.AlarmName(p.StackName, p.OtherRegion, what)
				byName := awscloudwatch.Alarm_FromAlarmName(this, jsii.String("RegionLag"+what), jsii.String(name))
				elsewhere = append(elsewhere, byName)
				a.summary = append(a.summary, byName)
			}
		}
	}

	m := &Monitoring{Construct: this, Topic: topic, Alarms: a.all, RegionLag: lag}
	shown := make([]awscloudwatch.IAlarm, 0, len(a.all)+len(elsewhere))
	for _, al := range a.all {
		shown = append(shown, al)
	}
	m.Dashboard = dashboard(this, p, append(shown, elsewhere...), a.summary, fileSystemIDs, lag)
	return m, nil
}

// fromNodeStack is value of a node's nested stack (the node's Scope) as the
// cluster stack reads it: through an output of that stack named name. The
// output CDK would make for the reference is named after the value's
// whole construct path, the stack name included, and the dashboard repeats
// each reference in the cluster stack's template, which is limited in size.
func fromNodeStack(scope constructs.Construct, name string, value *string) *string {
	nested, ok := scope.(awscdk.NestedStack)
	if !ok {
		return value
	}
	output := awscdk.NewCfnOutput(nested, jsii.String(name), &awscdk.CfnOutputProps{Value: value})
	output.OverrideLogicalId(jsii.String(name))
	return awscdk.Token_AsString(nested.NestedStackResource().GetAtt(jsii.String("Outputs."+name), awscdk.ResolutionTypeHint_STRING), nil)
}

// stoppedTasks records every stopped task of the cluster (EventBridge to a
// log group: ECS forgets a stopped task within an hour, and its
// stoppedReason is what an operator needs) and counts them per service.
func stoppedTasks(scope constructs.Construct, p Props) func(service awsecs.IBaseService) awscloudwatch.Metric {
	stack := awscdk.Stack_Of(scope)
	log := awslogs.NewLogGroup(scope, jsii.String("StoppedTasks"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// EventBridge writes to a log group under the log group's resource
	// policy (a native resource, no custom resource).
	awslogs.NewResourcePolicy(scope, jsii.String("StoppedTasksDelivery"), &awslogs.ResourcePolicyProps{
		PolicyStatements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Principals: &[]awsiam.IPrincipal{
				awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
				awsiam.NewServicePrincipal(jsii.String("delivery.logs.amazonaws.com"), nil),
			},
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: &[]*string{log.LogGroupArn()},
		})},
	})
	awsevents.NewCfnRule(scope, jsii.String("StoppedTasksRule"), &awsevents.CfnRuleProps{
		Description: jsii.String("Every stopped task of the IPFS cluster's ECS cluster, with its stoppedReason"),
		EventPattern: map[string]any{
			"source":      []string{"aws.ecs"},
			"detail-type": []string{"ECS Task State Change"},
			"detail": map[string]any{
				"clusterArn": []*string{p.Cluster.ClusterArn()},
				"lastStatus": []string{"STOPPED"},
			},
		},
		Targets: []any{&awsevents.CfnRule_TargetProperty{
			Id: jsii.String("StoppedTasksLog"),
			Arn: stack.FormatArn(&awscdk.ArnComponents{
				Service:      jsii.String("logs"),
				Resource:     jsii.String("log-group"),
				ResourceName: log.LogGroupName(),
				ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
			}),
		}},
	})
	const metricName = "StoppedTasks"
	awslogs.NewMetricFilter(scope, jsii.String("StoppedTasksFilter"), &awslogs.MetricFilterProps{
		LogGroup:        log,
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.detail.lastStatus"), jsii.String("="), jsii.String("STOPPED")),
		MetricNamespace: jsii.String(monitoringspec.Namespace),
		MetricName:      jsii.String(metricName),
		MetricValue:     jsii.String("1"),
		// "service:<service name>" for a service's task.
		Dimensions: &map[string]*string{"ServiceGroup": jsii.String("$.detail.group")},
	})
	return func(service awsecs.IBaseService) awscloudwatch.Metric {
		group := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("service:"), service.ServiceName()})
		return metric(monitoringspec.Namespace, metricName, "Sum", minutes(5), map[string]*string{"ServiceGroup": group})
	}
}

func clusterMetric(p Props, peer, name, statistic string, period awscdk.Duration) awscloudwatch.Metric {
	return metric(monitoringspec.Namespace, name, statistic, period, map[string]*string{
		monitoringspec.DimensionStack: jsii.String(p.StackName),
		monitoringspec.DimensionPeer:  jsii.String(peer),
	})
}

func serviceMetric(n Node, name, statistic string, period awscdk.Duration) awscloudwatch.Metric {
	return metric("ECS/ContainerInsights", name, statistic, period, map[string]*string{
		"ClusterName": n.Service.Cluster().ClusterName(),
		"ServiceName": n.Service.ServiceName(),
	})
}

func efsMetric(n Node, name, statistic string, period awscdk.Duration) awscloudwatch.Metric {
	dims := map[string]*string{"FileSystemId": n.FileSystem.FileSystemId()}
	if class, ok := efsStorageClass(name); ok {
		dims["StorageClass"] = jsii.String(class)
	}
	return metric("AWS/EFS", name, statistic, period, dims)
}

// efsStorageClass is the storage class dimension metric name has: EFS
// reports StorageBytes per class, Total being the whole file system.
func efsStorageClass(name string) (string, bool) {
	return "Total", name == "StorageBytes"
}

// What the summary alarms of a node are called (the dashboard's note
// names them); the other region's alarms reuse not-reporting and
// pinset-behind, with the region as their subject.
const (
	whatTasksBelowDesired = "tasks-below-desired"
	whatNotReporting      = "not-reporting"
	whatPinsetBehind      = "pinset-behind"
)

// maxPeersCompared keeps the pinset comparison within CloudWatch's limit
// of 10 metrics per alarm: the peer itself and up to 9 neighbours.
const maxPeersCompared = 10

func nodeAlarms(a *alarms, p Props, i int, n Node, stopped func(awsecs.IBaseService) awscloudwatch.Metric) {
	peer := n.Name
	// By the peer's name (node<i> -> Node<i>...), which is its position
	// only in the first region.
	id := func(s string) string { return strings.ToUpper(peer[:1]) + peer[1:] + s }

	a.add(id("TasksBelowDesired"), alarm{
		subject: peer, what: whatTasksBelowDesired,
		metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			// A service without a running task may publish no
			// RunningTaskCount at all: missing counts as zero.
			Expression: jsii.String("desired - FILL(running, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"desired": serviceMetric(n, "DesiredTaskCount", "Maximum", minutes(1)),
				"running": serviceMetric(n, "RunningTaskCount", "Minimum", minutes(1)),
			},
			Label:  jsii.String(peer + " tasks missing"),
			Period: minutes(1),
		}),
		threshold: 1, operator: atLeast, periods: monitoringspec.TasksBelowDesiredMinutes,
		// No data at all means Container Insights lost the service.
		missing: awscloudwatch.TreatMissingData_BREACHING,
		why:     fmt.Sprintf("%s has had fewer running tasks than desired for %d minutes: longer than a rolling update takes, so the peer cannot start (see the stopped-task log and the service's events).", peer, monitoringspec.TasksBelowDesiredMinutes),
		runbook: monitoringspec.RunbookPeerDown,
		summary: true,
	})
	a.add(id("TasksRestarting"), alarm{
		subject: peer, what: "tasks-restarting",
		metric: stopped(n.Service),
		// 3 five-minute periods with a stop among the last twelve: three
		// stops in an hour.
		threshold: 1, operator: atLeast, periods: 12, datapoints: monitoringspec.StoppedTasksPerHour,
		why:     fmt.Sprintf("%s's tasks stopped in %d five-minute periods within an hour (an update stops one): a crash loop. The stopped-task log group holds each stoppedReason.", peer, monitoringspec.StoppedTasksPerHour),
		runbook: monitoringspec.RunbookPeerDown,
	})

	a.add(id("IoLimit"), alarm{
		subject: peer, what: "efs-io-limit",
		metric:    efsMetric(n, "PercentIOLimit", "Maximum", minutes(5)),
		threshold: monitoringspec.PercentIOLimit, operator: atLeast, periods: monitoringspec.PercentIOLimitPeriods,
		why:     fmt.Sprintf("%s's file system has been at %d %% or more of the general-purpose I/O limit for %d minutes; at 100 %% EFS throttles and kubo stalls.", peer, monitoringspec.PercentIOLimit, monitoringspec.PercentIOLimitPeriods*5),
		runbook: monitoringspec.RunbookStorage,
	})
	if p.Bursting {
		credits := float64(monitoringspec.BurstCreditHours*3600*monitoringspec.BurstCreditRateMiBPerSec) * (1 << 20)
		a.add(id("BurstCredits"), alarm{
			subject: peer, what: "efs-burst-credits-low",
			metric:    efsMetric(n, "BurstCreditBalance", "Minimum", minutes(5)),
			threshold: credits, operator: below, periods: 3,
			why:     fmt.Sprintf("%s's file system has burst credits for less than %d hour at %d MiB/s; at zero it drops to its baseline throughput (50 KiB/s per GiB stored).", peer, monitoringspec.BurstCreditHours, monitoringspec.BurstCreditRateMiBPerSec),
			runbook: monitoringspec.RunbookStorage,
		})
	}
	a.add(id("Storage"), alarm{
		subject: peer, what: "storage-near-storagemax",
		// EFS publishes StorageBytes every 15 minutes.
		metric:    efsMetric(n, "StorageBytes", "Maximum", minutes(15)),
		threshold: float64(p.StorageMaxBytes) * monitoringspec.StoragePercent / 100, operator: atLeast, periods: 2,
		why:     fmt.Sprintf("%s's file system holds %d %% of kuboStorageMax (%d bytes): the cluster's allocator will soon see no free space on this peer and kubo's GC starts at 90 %%.", peer, monitoringspec.StoragePercent, p.StorageMaxBytes),
		runbook: monitoringspec.RunbookStorage,
	})

	a.add(id("PinErrors"), alarm{
		subject: peer, what: "pins-in-error",
		metric:    clusterMetric(p, peer, monitoringspec.MetricPinError, "Minimum", minutes(1)),
		threshold: 0, operator: above, periods: monitoringspec.PinErrorMinutes,
		why:     fmt.Sprintf("%s has had pins in pin_error for %d minutes: the cluster's recover loop did not fix them.", peer, monitoringspec.PinErrorMinutes),
		runbook: monitoringspec.RunbookPinStuck,
	})
	a.add(id("PinQueue"), alarm{
		subject: peer, what: "pin-queue-not-draining",
		metric:    clusterMetric(p, peer, monitoringspec.MetricPinQueued, "Minimum", minutes(5)),
		threshold: monitoringspec.PinQueueThreshold, operator: atLeast, periods: monitoringspec.PinQueueMinutes / 5,
		why:     fmt.Sprintf("%s has had %d or more pins queued for %d minutes: kubo cannot fetch them (content unreachable, peers cut off, or the I/O limit).", peer, monitoringspec.PinQueueThreshold, monitoringspec.PinQueueMinutes),
		runbook: monitoringspec.RunbookPinStuck,
	})
	a.add(id("NotReporting"), alarm{
		subject: peer, what: whatNotReporting,
		metric:    clusterMetric(p, peer, monitoringspec.MetricUp, "Minimum", minutes(1)),
		threshold: 1, operator: below, periods: monitoringspec.PeersUpMinutes,
		// No data: the task, the collector or its path to CloudWatch is
		// gone; the cluster has fewer peers than configured either way.
		missing: awscloudwatch.TreatMissingData_BREACHING,
		why:     fmt.Sprintf("%s's cluster metrics have been missing or down for %d minutes: the cluster has fewer live peers than nodeCount (%d).", peer, monitoringspec.PeersUpMinutes, len(p.Nodes)),
		runbook: monitoringspec.RunbookPeerDown,
		summary: true,
	})
	if len(p.Nodes) > 1 {
		using := map[string]awscloudwatch.IMetric{"self": clusterMetric(p, peer, monitoringspec.MetricPins, "Average", minutes(5))}
		var others []string
		for k := 1; k < len(p.Nodes) && k < maxPeersCompared; k++ {
			other := p.Nodes[(i+k)%len(p.Nodes)].Name
			key := fmt.Sprintf("peer%d", k)
			using[key] = clusterMetric(p, other, monitoringspec.MetricPins, "Average", minutes(5))
			others = append(others, key)
		}
		a.add(id("PinsetBehind"), alarm{
			subject: peer, what: whatPinsetBehind,
			metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression:   jsii.String(fmt.Sprintf("MAX([%s]) - FILL(self, 0)", strings.Join(others, ", "))),
				UsingMetrics: &using,
				Label:        jsii.String(peer + " pins behind its peers"),
				Period:       minutes(5),
			}),
			threshold: 1, operator: atLeast, periods: monitoringspec.PinsetBehindMinutes / 5,
			why:     fmt.Sprintf("%s's pinset has held fewer pins than another peer's for %d minutes: it does not hear the others (partition) or hit the known stall.", peer, monitoringspec.PinsetBehindMinutes),
			runbook: monitoringspec.RunbookStall,
		})
	}

	logAlarm := func(suffix, what, line string, count, period int, why, runbook string) {
		metricName := monitoringspec.AlarmName(p.StackName, peer, what)
		awslogs.NewMetricFilter(a.scope, jsii.String(id(suffix+"Filter")), &awslogs.MetricFilterProps{
			LogGroup:        n.ClusterLogGroup,
			FilterPattern:   awslogs.FilterPattern_AllTerms(jsii.String(line)),
			MetricNamespace: jsii.String(monitoringspec.Namespace),
			MetricName:      jsii.String(metricName),
			MetricValue:     jsii.String("1"),
		})
		a.add(id(suffix), alarm{
			subject: peer, what: what,
			metric:    metric(monitoringspec.Namespace, metricName, "Sum", minutes(period), nil),
			threshold: float64(count), operator: atLeast, periods: 1,
			why: why, runbook: runbook,
		})
	}
	logAlarm("StallLog", "stall-logged", monitoringspec.StallLogLine, monitoringspec.StallLogCount, monitoringspec.StallLogMinutes,
		fmt.Sprintf("%s logged %q %d times in %d minutes: the known upstream stall; restart this peer's service.", peer, monitoringspec.StallLogLine, monitoringspec.StallLogCount, monitoringspec.StallLogMinutes),
		monitoringspec.RunbookStall)
	logAlarm("AllocationLog", "allocation-failing", monitoringspec.AllocationLogLine, monitoringspec.AllocationErrorCount, monitoringspec.AllocationErrorMinutes,
		fmt.Sprintf("%s answered %q %d times in %d minutes: too few peers are up or have space for the replication factor.", peer, monitoringspec.AllocationLogLine, monitoringspec.AllocationErrorCount, monitoringspec.AllocationErrorMinutes),
		monitoringspec.RunbookScaleOut)
}

func targetGroupAlarms(a *alarms, tg TargetGroup) {
	subject := "alb-" + tg.Name
	id := "TargetGroup" + strings.ToUpper(tg.Name[:1]) + tg.Name[1:]
	m := tg.Group.Metrics()
	a.add(id+"Unhealthy", alarm{
		subject: subject, what: "unhealthy-targets",
		metric:    m.UnhealthyHostCount(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: minutes(1)}),
		threshold: 1, operator: atLeast, periods: monitoringspec.UnhealthyTargetMinutes,
		why:     fmt.Sprintf("The %s target group has had an unhealthy target for %d minutes: a peer answers its health check wrongly or not at all.", tg.Name, monitoringspec.UnhealthyTargetMinutes),
		runbook: monitoringspec.RunbookLoadBalance,
		summary: true,
	})
	period := minutes(5)
	a.add(id+"Errors", alarm{
		subject: subject, what: "target-5xx-rate",
		metric: errorRate(tg.Name+" 5xx %",
			m.HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_5XX_COUNT, &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period}),
			m.RequestCount(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period}), period),
		threshold: monitoringspec.ErrorRatePercent, operator: above, periods: monitoringspec.ErrorRatePeriods,
		why:     fmt.Sprintf("More than %d %% of the %s target group's responses were 5xx (with at least %d requests) for %d minutes.", monitoringspec.ErrorRatePercent, tg.Name, monitoringspec.ErrorRateMinimumRequests, monitoringspec.ErrorRatePeriods*5),
		runbook: monitoringspec.RunbookLoadBalance,
		summary: true,
	})
}
