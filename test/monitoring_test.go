package test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/stackspec"
)

// operations is cdk.json with every operations option turned the other way:
// bursting file systems, an alarm e-mail, a backup copy region, a short
// retention, destroyable data. Synthesized once, on first use.
var operationsSynth *synthesized

func operations(t *testing.T) *synthesized {
	t.Helper()
	if operationsSynth == nil {
		var err error
		operationsSynth, err = synth(map[string]any{
			config.KeyEfsThroughputMode:   "bursting",
			config.KeyAlarmEmail:          "ops@example.com",
			config.KeyBackupCopyRegion:    "eu-central-1",
			config.KeyBackupRetentionDays: "7",
			config.KeyDataRemovalPolicy:   "destroy",
		})
		require.NoError(t, err)
	}
	return operationsSynth
}

// resourcesOf is the template of one of s's stacks as plain JSON resources.
func resourcesOf(t *testing.T, s *synthesized, stack awscdk.Stack) map[string]resource {
	t.Helper()
	st := s.stacks[*stack.ArtifactId()]
	require.NotNil(t, st, "stack %s in the assembly", *stack.StackName())
	return st.resources
}

// taskContainers returns node i's container definitions by name, all three.
func taskContainers(t *testing.T, s *synthesized, i int) map[string]map[string]any {
	t.Helper()
	_, task := s.withPrefix(t, "AWS::ECS::TaskDefinition", fmt.Sprintf("Node%dTask", i))
	out := map[string]map[string]any{}
	for _, c := range list(task.Properties["ContainerDefinitions"]) {
		def := c.(map[string]any)
		out[def["Name"].(string)] = def
	}
	return out
}

func byType(resources map[string]resource, resourceType string) map[string]resource {
	out := map[string]resource{}
	for id, r := range resources {
		if r.Type == resourceType {
			out[id] = r
		}
	}
	return out
}

// alarmsByName indexes a template's alarms by AlarmName.
func alarmsByName(t *testing.T, resources map[string]resource) map[string]resource {
	t.Helper()
	out := map[string]resource{}
	for id, a := range byType(resources, "AWS::CloudWatch::Alarm") {
		name, ok := a.Properties["AlarmName"].(string)
		require.True(t, ok, "%s has a literal name", id)
		out[name] = a
	}
	return out
}

// metricStats returns an alarm's metrics as "namespace/name" -> dimensions,
// whether it uses a single metric or metric math.
func metricStats(a resource) map[string]map[string]any {
	out := map[string]map[string]any{}
	dims := func(l []any) map[string]any {
		m := map[string]any{}
		for _, d := range l {
			m[path(d, "Name").(string)] = path(d, "Value")
		}
		return m
	}
	if name, ok := a.Properties["MetricName"].(string); ok {
		out[fmt.Sprint(a.Properties["Namespace"])+"/"+name] = dims(list(a.Properties["Dimensions"]))
	}
	for _, m := range list(a.Properties["Metrics"]) {
		if stat := path(m, "MetricStat", "Metric"); stat != nil {
			out[fmt.Sprint(path(stat, "Namespace"))+"/"+fmt.Sprint(path(stat, "MetricName"))] = dims(list(path(stat, "Dimensions")))
		}
	}
	return out
}

func expression(a resource) string {
	for _, m := range list(a.Properties["Metrics"]) {
		if e, ok := path(m, "Expression").(string); ok && path(m, "ReturnData") != false {
			return e
		}
	}
	return ""
}

// wantAlarms is the alarm table as built, per configuration.
func wantAlarms(s *synthesized) (cluster, edge []string) {
	stack := s.config.StackName
	for i := 0; i < s.config.NodeCount; i++ {
		peer := nodespec.PeerName(i)
		whats := []string{"tasks-below-desired", "tasks-restarting", "efs-io-limit", "storage-near-storagemax",
			"pins-in-error", "pin-queue-not-draining", "not-reporting", "pinset-behind", "stall-logged", "allocation-failing"}
		if s.config.EfsThroughputMode == config.ThroughputBursting {
			whats = append(whats, "efs-burst-credits-low")
		}
		for _, what := range whats {
			cluster = append(cluster, monitoringspec.AlarmName(stack, peer, what))
		}
	}
	for _, tg := range []string{"alb-gateway", "alb-restapi", "alb-psa"} {
		cluster = append(cluster, monitoringspec.AlarmName(stack, tg, "unhealthy-targets"), monitoringspec.AlarmName(stack, tg, "target-5xx-rate"))
	}
	edge = []string{
		monitoringspec.AlarmName(stack, "cloudfront-gateway", "5xx-rate"),
		monitoringspec.AlarmName(stack, "cloudfront-api", "5xx-rate"),
		monitoringspec.AlarmName(stack, "edge-auth", "errors"),
		monitoringspec.AlarmName(stack, "edge-auth", "throttles"),
		monitoringspec.AlarmName(stack, "psa", "auth-failures"),
	}
	if len(s.config.WebsiteDomains) > 0 {
		edge = append(edge, monitoringspec.AlarmName(stack, "cloudfront-websites", "5xx-rate"))
	}
	sort.Strings(cluster)
	sort.Strings(edge)
	return cluster, edge
}

func alarmNames(m map[string]resource) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestEveryAlarmIsInTheTableAndNotifiesItsTopic(t *testing.T) {
	for _, s := range []*synthesized{defaults, privateSwarm, operations(t)} {
		wantCluster, wantEdge := wantAlarms(s)
		for _, x := range []struct {
			stack awscdk.Stack
			want  []string
		}{{s.stack.Stack, wantCluster}, {s.stack.EdgeMonitoring, wantEdge}} {
			resources := resourcesOf(t, s, x.stack)
			alarms := alarmsByName(t, resources)
			assert.Equal(t, x.want, alarmNames(alarms), "%s: the alarm table", *x.stack.StackName())
			topics := byType(resources, "AWS::SNS::Topic")
			require.Len(t, topics, 1, "one alarm topic per region")
			topic := alarmNames(topics)[0]
			for name, a := range alarms {
				assert.Equal(t, []any{map[string]any{"Ref": topic}}, a.Properties["AlarmActions"], "%s notifies on ALARM", name)
				assert.Equal(t, []any{map[string]any{"Ref": topic}}, a.Properties["OKActions"], "%s notifies on OK", name)
				assert.Regexp(t, `Runbook: `+regexp.QuoteMeta(monitoringspec.DefaultRunbookURL)+`#[a-z-]+$`, a.Properties["AlarmDescription"], name)
				assert.NotEmpty(t, a.Properties["EvaluationPeriods"], name)
			}
		}
	}
}

// clusterAlarm returns alarm <stack>-<subject>-<what> of the cluster stack.
func clusterAlarm(t *testing.T, s *synthesized, subject, what string) resource {
	t.Helper()
	a, ok := alarmsByName(t, s.resources)[monitoringspec.AlarmName(s.config.StackName, subject, what)]
	require.True(t, ok, "alarm %s-%s", subject, what)
	return a
}

func assertAlarm(t *testing.T, a resource, operator string, threshold float64, periods, datapoints int, missing string) {
	t.Helper()
	name := a.Properties["AlarmName"]
	assert.Equal(t, operator, a.Properties["ComparisonOperator"], name)
	assert.EqualValues(t, threshold, a.Properties["Threshold"], name)
	assert.EqualValues(t, periods, a.Properties["EvaluationPeriods"], name)
	assert.EqualValues(t, datapoints, a.Properties["DatapointsToAlarm"], name)
	assert.Equal(t, missing, a.Properties["TreatMissingData"], name)
}

func TestNodeAlarmsMetricsThresholdsAndPeriods(t *testing.T) {
	s := defaults
	storageMax, err := nodespec.StorageMaxBytes(s.config.KuboStorageMax)
	require.NoError(t, err)
	for i := 0; i < s.config.NodeCount; i++ {
		peer := nodespec.PeerName(i)
		serviceID, _ := s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
		fsID, _ := s.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
		clusterDims := map[string]any{monitoringspec.DimensionStack: s.config.StackName, monitoringspec.DimensionPeer: peer}
		fsDims := map[string]any{"FileSystemId": map[string]any{"Ref": fsID}}

		a := clusterAlarm(t, s, peer, "tasks-below-desired")
		assertAlarm(t, a, "GreaterThanOrEqualToThreshold", 1, monitoringspec.TasksBelowDesiredMinutes, monitoringspec.TasksBelowDesiredMinutes, "breaching")
		assert.Equal(t, "desired - FILL(running, 0)", expression(a))
		for _, m := range []string{"DesiredTaskCount", "RunningTaskCount"} {
			dims := metricStats(a)["ECS/ContainerInsights/"+m]
			require.NotNil(t, dims, "%s uses %s", peer, m)
			assert.Equal(t, serviceID, ref(dims["ServiceName"]), "%s %s of its own service", peer, m)
			assert.NotEmpty(t, ref(dims["ClusterName"]))
		}

		a = clusterAlarm(t, s, peer, "tasks-restarting")
		assertAlarm(t, a, "GreaterThanOrEqualToThreshold", 1, 12, monitoringspec.StoppedTasksPerHour, "notBreaching")
		group := fmt.Sprint(metricStats(a)[monitoringspec.Namespace+"/StoppedTasks"]["ServiceGroup"])
		assert.Contains(t, group, "service:")
		assert.Contains(t, group, serviceID, "%s counts its own service's stopped tasks", peer)

		a = clusterAlarm(t, s, peer, "efs-io-limit")
		assertAlarm(t, a, "GreaterThanOrEqualToThreshold", monitoringspec.PercentIOLimit, monitoringspec.PercentIOLimitPeriods, monitoringspec.PercentIOLimitPeriods, "notBreaching")
		assert.Equal(t, map[string]map[string]any{"AWS/EFS/PercentIOLimit": fsDims}, metricStats(a))

		a = clusterAlarm(t, s, peer, "storage-near-storagemax")
		assertAlarm(t, a, "GreaterThanOrEqualToThreshold", float64(storageMax)*monitoringspec.StoragePercent/100, 2, 2, "notBreaching")
		assert.Equal(t, map[string]map[string]any{"AWS/EFS/StorageBytes": {"FileSystemId": fsDims["FileSystemId"], "StorageClass": "Total"}}, metricStats(a))
		assert.EqualValues(t, 900, a.Properties["Period"], "EFS publishes StorageBytes every 15 minutes")

		a = clusterAlarm(t, s, peer, "pins-in-error")
		assertAlarm(t, a, "GreaterThanThreshold", 0, monitoringspec.PinErrorMinutes, monitoringspec.PinErrorMinutes, "notBreaching")
		assert.Equal(t, map[string]map[string]any{monitoringspec.Namespace + "/" + monitoringspec.MetricPinError: clusterDims}, metricStats(a))

		a = clusterAlarm(t, s, peer, "pin-queue-not-draining")
		assertAlarm(t, a, "GreaterThanOrEqualToThreshold", monitoringspec.PinQueueThreshold, monitoringspec.PinQueueMinutes/5, monitoringspec.PinQueueMinutes/5, "notBreaching")
		assert.Equal(t, map[string]map[string]any{monitoringspec.Namespace + "/" + monitoringspec.MetricPinQueued: clusterDims}, metricStats(a))

		a = clusterAlarm(t, s, peer, "not-reporting")
		assertAlarm(t, a, "LessThanThreshold", 1, monitoringspec.PeersUpMinutes, monitoringspec.PeersUpMinutes, "breaching")
		assert.Equal(t, map[string]map[string]any{monitoringspec.Namespace + "/" + monitoringspec.MetricUp: clusterDims}, metricStats(a))

		a = clusterAlarm(t, s, peer, "pinset-behind")
		assertAlarm(t, a, "GreaterThanOrEqualToThreshold", 1, monitoringspec.PinsetBehindMinutes/5, monitoringspec.PinsetBehindMinutes/5, "notBreaching")
		assert.Regexp(t, `^MAX\(\[peer1, peer2\]\) - FILL\(self, 0\)$`, expression(a))
		var peers []string
		for _, m := range list(a.Properties["Metrics"]) {
			if p := path(m, "MetricStat", "Metric"); p != nil {
				assert.Equal(t, monitoringspec.MetricPins, path(p, "MetricName"))
				for _, d := range list(path(p, "Dimensions")) {
					if path(d, "Name") == monitoringspec.DimensionPeer {
						peers = append(peers, path(d, "Value").(string))
					}
				}
			}
		}
		sort.Strings(peers)
		assert.Equal(t, []string{"node0", "node1", "node2"}, peers, "%s compares its pinset with every other peer's", peer)

		for what, want := range map[string]struct {
			line           string
			count, minutes int
		}{
			"stall-logged":       {monitoringspec.StallLogLine, monitoringspec.StallLogCount, monitoringspec.StallLogMinutes},
			"allocation-failing": {monitoringspec.AllocationLogLine, monitoringspec.AllocationErrorCount, monitoringspec.AllocationErrorMinutes},
		} {
			a = clusterAlarm(t, s, peer, what)
			assertAlarm(t, a, "GreaterThanOrEqualToThreshold", float64(want.count), 1, 1, "notBreaching")
			assert.EqualValues(t, want.minutes*60, a.Properties["Period"], what)
			metricName := a.Properties["MetricName"]
			var filters []resource
			for _, f := range s.ofType("AWS::Logs::MetricFilter") {
				if path(f.Properties, "MetricTransformations", 0, "MetricName") == metricName {
					filters = append(filters, f)
				}
			}
			require.Len(t, filters, 1, "%s %s: one metric filter feeds it", peer, what)
			assert.Contains(t, filters[0].Properties["FilterPattern"], want.line)
			logGroup := ref(filters[0].Properties["LogGroupName"])
			assert.Regexp(t, fmt.Sprintf(`^Node%dClusterLogs`, i), logGroup, "%s %s reads the cluster container's log", peer, what)
		}
	}
}

func TestBurstCreditAlarmOnlyWhenBursting(t *testing.T) {
	for _, a := range alarmsByName(t, defaults.resources) {
		assert.NotContains(t, metricStats(a), "AWS/EFS/BurstCreditBalance", "elastic throughput has no burst credits")
	}
	s := operations(t)
	for i := 0; i < s.config.NodeCount; i++ {
		a := clusterAlarm(t, s, nodespec.PeerName(i), "efs-burst-credits-low")
		assertAlarm(t, a, "LessThanThreshold", float64(monitoringspec.BurstCreditHours*3600*monitoringspec.BurstCreditRateMiBPerSec<<20), 3, 3, "notBreaching")
		fsID, _ := s.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
		assert.Equal(t, map[string]map[string]any{"AWS/EFS/BurstCreditBalance": {"FileSystemId": map[string]any{"Ref": fsID}}}, metricStats(a))
	}
}

func TestLoadBalancerAlarmsPerTargetGroup(t *testing.T) {
	s := defaults
	for _, tg := range []struct{ name, prefix string }{{"gateway", "LoadBalancerGatewayTargets"}, {"restapi", "LoadBalancerRestApiTargets"}} {
		tgID, _ := s.withPrefix(t, "AWS::ElasticLoadBalancingV2::TargetGroup", tg.prefix)
		a := clusterAlarm(t, s, "alb-"+tg.name, "unhealthy-targets")
		assertAlarm(t, a, "GreaterThanOrEqualToThreshold", 1, monitoringspec.UnhealthyTargetMinutes, monitoringspec.UnhealthyTargetMinutes, "notBreaching")
		dims := metricStats(a)["AWS/ApplicationELB/UnHealthyHostCount"]
		require.NotNil(t, dims)
		assert.Equal(t, tgID, ref(dims["TargetGroup"]), "%s alarm watches its own target group", tg.name)

		a = clusterAlarm(t, s, "alb-"+tg.name, "target-5xx-rate")
		assertAlarm(t, a, "GreaterThanThreshold", monitoringspec.ErrorRatePercent, monitoringspec.ErrorRatePeriods, monitoringspec.ErrorRatePeriods, "notBreaching")
		assert.Equal(t, fmt.Sprintf("IF(requests >= %d, 100 * FILL(errors, 0) / requests, 0)", monitoringspec.ErrorRateMinimumRequests), expression(a))
		stats := metricStats(a)
		for _, m := range []string{"AWS/ApplicationELB/HTTPCode_Target_5XX_Count", "AWS/ApplicationELB/RequestCount"} {
			require.NotNil(t, stats[m], m)
			assert.Equal(t, tgID, ref(stats[m]["TargetGroup"]), "%s: %s of its own target group", tg.name, m)
		}
	}
}

func TestEdgeAlarmsLiveInUsEast1(t *testing.T) {
	s := defaults
	edgeStack := s.stack.EdgeMonitoring
	assert.Equal(t, "us-east-1", *edgeStack.Region())
	assert.True(t, *awscdk.Token_IsUnresolved(edgeStack.Account()), "environment-agnostic account, like the cluster stack")
	resources := resourcesOf(t, s, edgeStack)
	alarms := alarmsByName(t, resources)
	for _, d := range []string{"gateway", "api"} {
		a := alarms[monitoringspec.AlarmName(s.config.StackName, "cloudfront-"+d, "5xx-rate")]
		require.NotNil(t, a.Properties, d)
		assertAlarm(t, a, "GreaterThanThreshold", monitoringspec.ErrorRatePercent, monitoringspec.ErrorRatePeriods, monitoringspec.ErrorRatePeriods, "notBreaching")
		stats := metricStats(a)
		for _, m := range []string{"AWS/CloudFront/5xxErrorRate", "AWS/CloudFront/Requests"} {
			require.NotNil(t, stats[m], "%s %s", d, m)
			assert.Equal(t, "Global", stats[m]["Region"])
			// The distribution's ID crosses regions through CDK's
			// cross-region reference reader.
			assert.Contains(t, fmt.Sprint(stats[m]["DistributionId"]), "ExportsReader")
		}
	}
	assert.Len(t, byType(resources, "AWS::CloudFront::MonitoringSubscription"), 2, "additional metrics (cache hit rate) for both distributions")
	for what, metricName := range map[string]string{"errors": "Errors", "throttles": "Throttles"} {
		a := alarms[monitoringspec.AlarmName(s.config.StackName, "edge-auth", what)]
		assertAlarm(t, a, "GreaterThanOrEqualToThreshold", monitoringspec.EdgeFunctionErrors, monitoringspec.EdgeFunctionPeriods, monitoringspec.EdgeFunctionPeriods, "notBreaching")
		fn := fmt.Sprint(metricStats(a)["AWS/Lambda/"+metricName]["FunctionName"])
		assert.Contains(t, fn, "edge-lambda-stack-", "the authenticator's function, exported by its us-east-1 stack")
	}
	// The cluster stack writes the IDs for us-east-1 with CDK's export writer.
	assert.NotEmpty(t, s.ofType("Custom::CrossRegionExportWriter"))
}

func TestAlarmTopicsAreEncryptedForCloudWatch(t *testing.T) {
	for _, s := range []*synthesized{defaults, operations(t)} {
		for _, stack := range []awscdk.Stack{s.stack.Stack, s.stack.EdgeMonitoring} {
			resources := resourcesOf(t, s, stack)
			topics := byType(resources, "AWS::SNS::Topic")
			require.Len(t, topics, 1)
			topicID := alarmNames(topics)[0]
			keyID := ref(topics[topicID].Properties["KmsMasterKeyId"])
			require.NotEmpty(t, keyID, "SNS2: the topic is encrypted with its own key")
			key := resources[keyID]
			assert.Equal(t, true, key.Properties["EnableKeyRotation"])
			granted := false
			for _, st := range list(path(key.Properties, "KeyPolicy", "Statement")) {
				if path(st, "Principal", "Service") == "cloudwatch.amazonaws.com" {
					granted = true
					assert.ElementsMatch(t, []any{"kms:Decrypt", "kms:GenerateDataKey*"}, path(st, "Action"))
				}
			}
			assert.True(t, granted, "%s: CloudWatch alarms may use the topic's key", *stack.StackName())
			ssl := false
			for _, p := range byType(resources, "AWS::SNS::TopicPolicy") {
				for _, st := range list(path(p.Properties, "PolicyDocument", "Statement")) {
					ssl = ssl || (path(st, "Effect") == "Deny" && path(st, "Condition", "Bool", "aws:SecureTransport") == "false")
				}
			}
			assert.True(t, ssl, "SNS3: publishing requires TLS")
			subscriptions := byType(resources, "AWS::SNS::Subscription")
			if s.config.AlarmEmail == "" {
				assert.Empty(t, subscriptions)
				continue
			}
			require.Len(t, subscriptions, 1, "%s: the alarm e-mail subscribes in both regions", *stack.StackName())
			for _, sub := range subscriptions {
				assert.Equal(t, "email", sub.Properties["Protocol"])
				assert.Equal(t, s.config.AlarmEmail, sub.Properties["Endpoint"])
				assert.Equal(t, topicID, ref(sub.Properties["TopicArn"]))
			}
		}
	}
}

// dashboardBody renders the dashboard's JSON with every reference replaced
// by what it names: "<logical ID>" for a Ref, "<logical ID.attribute>" for
// a GetAtt (a nested stack's output: "<resource.Outputs.name>"), "<ref>"
// for any other function.
func dashboardBody(t *testing.T, s *synthesized) map[string]any {
	t.Helper()
	dashboards := s.ofType("AWS::CloudWatch::Dashboard")
	require.Len(t, dashboards, 1, "one dashboard per cluster")
	for id, d := range dashboards {
		assert.True(t, strings.HasPrefix(id, "MonitoringDashboard"), "the dashboard keeps its logical ID (and with it its name): %s", id)
		assert.Equal(t, s.config.StackName, d.Properties["DashboardName"])
		text := dashboardText(d)
		var body map[string]any
		require.NoError(t, json.Unmarshal([]byte(text), &body), text)
		return body
	}
	return nil
}

// dashboardText is a dashboard's body with its references named.
func dashboardText(d resource) string {
	var text strings.Builder
	for _, part := range list(path(d.Properties, "DashboardBody", "Fn::Join", 1)) {
		switch {
		case path(part, "Ref") != nil:
			text.WriteString("<" + ref(part) + ">")
		case path(part, "Fn::GetAtt") != nil:
			text.WriteString("<" + ref(part) + "." + path(part, "Fn::GetAtt", 1).(string) + ">")
		default:
			if str, ok := part.(string); ok {
				text.WriteString(str)
			} else {
				text.WriteString("<ref>")
			}
		}
	}
	return text.String()
}

// dashboardView is a dashboard's widgets by kind.
type dashboardView struct {
	// sections are the titles of the "## " text widgets, in order.
	sections []string
	// notes are the other text widgets.
	notes []string
	// alarmWidgets are the alarm references of each alarm status widget.
	alarmWidgets [][]string
	// graphs are the properties of the metric widgets, by section.
	graphs map[string][]map[string]any
}

func viewDashboard(t *testing.T, s *synthesized) dashboardView {
	t.Helper()
	v := dashboardView{graphs: map[string][]map[string]any{}}
	current := ""
	for _, w := range list(dashboardBody(t, s)["widgets"]) {
		props, _ := path(w, "properties").(map[string]any)
		switch path(w, "type") {
		case "text":
			markdown := props["markdown"].(string)
			if title, ok := strings.CutPrefix(strings.SplitN(markdown, "\n", 2)[0], "## "); ok {
				current = title
				v.sections = append(v.sections, current)
			} else {
				v.notes = append(v.notes, markdown)
			}
		case "alarm":
			var alarms []string
			for _, a := range list(props["alarms"]) {
				alarms = append(alarms, a.(string))
			}
			v.alarmWidgets = append(v.alarmWidgets, alarms)
		case "metric":
			v.graphs[current] = append(v.graphs[current], props)
		}
	}
	return v
}

// searches returns a graph's SEARCH expressions, checking that each shows
// one series per dimension value, labelled by labelDimension.
func searches(t *testing.T, graph map[string]any, labelDimension string) []string {
	t.Helper()
	var out []string
	for _, m := range list(graph["metrics"]) {
		line := list(m)
		require.Len(t, line, 1, "%s: a math expression, not a metric", graph["title"])
		expression, _ := path(line[0], "expression").(string)
		require.True(t, strings.HasPrefix(expression, "SEARCH('"), "%s: %s", graph["title"], expression)
		assert.Equal(t, "${PROP('Dim."+labelDimension+"')}", path(line[0], "label"), "%s: series tell nodes apart", graph["title"])
		out = append(out, expression)
	}
	return out
}

// TestPSAAuthFailureAlarm: the edge's refusals (401, answered by the
// Lambda@Edge function, never seen by the load balancer) are alarmed on
// CloudFront's 401ErrorRate of the API distribution, in us-east-1, linking
// the runbook.
func TestPSAAuthFailureAlarm(t *testing.T) {
	s := defaults
	alarms := alarmsByName(t, resourcesOf(t, s, s.stack.EdgeMonitoring))
	a := alarms[monitoringspec.AlarmName(s.config.StackName, "psa", "auth-failures")]
	require.NotNil(t, a.Properties)
	assertAlarm(t, a, "GreaterThanThreshold", monitoringspec.PSAAuthFailurePercent, monitoringspec.PSAAuthFailurePeriods, monitoringspec.PSAAuthFailurePeriods, "notBreaching")
	stats := metricStats(a)
	for _, m := range []string{"AWS/CloudFront/401ErrorRate", "AWS/CloudFront/Requests"} {
		require.NotNil(t, stats[m], m)
		assert.Equal(t, "Global", stats[m]["Region"])
	}
	assert.Contains(t, a.Properties["AlarmDescription"], monitoringspec.RunbookPSARefused)
	// The API's distribution: the one whose 5xx alarm says "api".
	api := metricStats(alarms[monitoringspec.AlarmName(s.config.StackName, "cloudfront-api", "5xx-rate")])
	assert.Equal(t, fmt.Sprint(api["AWS/CloudFront/Requests"]["DistributionId"]), fmt.Sprint(stats["AWS/CloudFront/Requests"]["DistributionId"]))
}

func TestDashboardSections(t *testing.T) {
	s := defaults
	v := viewDashboard(t, s)
	assert.Equal(t, []string{monitoring.SectionAlarms, monitoring.SectionNodes, monitoring.SectionFileSystems, monitoring.SectionLoadBalancer, monitoring.SectionCluster, monitoring.SectionEdge, monitoring.SectionPSA}, v.sections)
	for section, want := range map[string][]string{
		monitoring.SectionNodes:        {"RunningTaskCount", "CpuUtilized", "MemoryUtilized"},
		monitoring.SectionFileSystems:  {"MeteredIOBytes", "PercentIOLimit", "StorageBytes"},
		monitoring.SectionLoadBalancer: {"RequestCount", "TargetResponseTime", "HTTPCode_Target_5XX_Count"},
		monitoring.SectionCluster:      {monitoringspec.MetricUp, monitoringspec.MetricPins, monitoringspec.MetricPinError, monitoringspec.MetricPinQueued},
		monitoring.SectionEdge:         {"Requests", "CacheHitRate", "5xxErrorRate"},
		monitoring.SectionPSA:          {"401ErrorRate"},
	} {
		raw, err := json.Marshal(v.graphs[section])
		require.NoError(t, err)
		for _, m := range want {
			assert.Regexp(t, `"`+m+`\\?"`, string(raw), "%s shows %s", section, m)
		}
		for _, g := range v.graphs[section] {
			region := "<AWS::Region>"
			// CloudFront's graphs read us-east-1; the PSA layer's target
			// group (once wired) is the cluster region's.
			if section == monitoring.SectionEdge || (section == monitoring.SectionPSA && strings.Contains(fmt.Sprint(g), "AWS/CloudFront")) {
				region = "us-east-1"
			}
			assert.Equal(t, region, g["region"], "%s: %s", section, g["title"])
		}
	}

	// Three nodes: every alarm of the region, in one widget, and no note
	// about alarms left out.
	require.Len(t, v.alarmWidgets, 1)
	var want []string
	for id := range s.ofType("AWS::CloudWatch::Alarm") {
		want = append(want, "<"+id+".Arn>")
	}
	assert.ElementsMatch(t, want, v.alarmWidgets[0], "the alarm widget shows every alarm of the region")
	assert.Empty(t, v.notes)
}

// The graphs of the nodes, their file systems and the cluster's own
// metrics cover every node without listing node by node (the file systems
// excepted: EFS has no other dimension), so a large cluster's dashboard
// fits its template.
func TestDashboardGraphsCoverEveryNode(t *testing.T) {
	fileSystemRef := regexp.MustCompile(`<(?:Node(\d+)FileSystem[0-9A-F]{8}|Node(\d+)StackNestedStack\w+\.Outputs\.DashboardFileSystemId)>`)
	for _, s := range []*synthesized{defaults, allFeatures} {
		v := viewDashboard(t, s)
		cluster, _ := s.withPrefix(t, "AWS::ECS::Cluster", "Cluster")
		for _, g := range v.graphs[monitoring.SectionNodes] {
			expressions := searches(t, g, "ServiceName")
			require.Len(t, expressions, 1, "%s: the same size at any node count", g["title"])
			assert.Contains(t, expressions[0], `{ECS/ContainerInsights,ClusterName,ServiceName}`)
			assert.Contains(t, expressions[0], `ClusterName="<`+cluster+`>"`, "every service of the cluster")
		}
		for _, g := range v.graphs[monitoring.SectionCluster] {
			expressions := searches(t, g, monitoringspec.DimensionPeer)
			require.Len(t, expressions, 1, "%s: the same size at any node count", g["title"])
			assert.Contains(t, expressions[0], fmt.Sprintf(`{%s,%s,%s}`, monitoringspec.Namespace, monitoringspec.DimensionPeer, monitoringspec.DimensionStack))
			assert.Contains(t, expressions[0], fmt.Sprintf(`%s="%s"`, monitoringspec.DimensionStack, s.config.StackName), "every peer of the stack")
		}
		require.Len(t, v.graphs[monitoring.SectionFileSystems], 3)
		for _, g := range v.graphs[monitoring.SectionFileSystems] {
			var nodes []int
			for _, e := range searches(t, g, "FileSystemId") {
				for _, m := range fileSystemRef.FindAllStringSubmatch(e, -1) {
					i, err := strconv.Atoi(m[1] + m[2])
					require.NoError(t, err)
					nodes = append(nodes, i)
				}
				query := strings.SplitN(strings.TrimPrefix(e, "SEARCH('"), "'", 2)[0]
				longest := fileSystemRef.ReplaceAllString(query, strings.Repeat("f", monitoringspec.MaxFileSystemIDLength))
				assert.LessOrEqual(t, len(longest), monitoringspec.SearchMaxQueryLength, "%s: %s", g["title"], query)
			}
			want := make([]int, s.config.NodeCount)
			for i := range want {
				want[i] = i
			}
			assert.ElementsMatch(t, want, nodes, "%s lists every node's file system once", g["title"])
		}
		// A nested node's file system ID comes through an output of its
		// own stack with a short name.
		for i := stackspec.ClusterStackNodes; i < s.config.NodeCount; i++ {
			assert.Regexp(t, fmt.Sprintf(`^Node%dFileSystem[0-9A-F]{8}$`, i), ref(path(nestedNode(t, s, i).outputs["DashboardFileSystemId"], "Value")))
		}
	}
}

// An alarm status widget holds at most 100 alarms. Beyond that the
// dashboard shows the alarms that say a peer or the load balancer is
// down, for every node, and how to list the others.
func TestDashboardAlarmsFitTheirWidgets(t *testing.T) {
	s := allFeatures
	v := viewDashboard(t, s)
	total := len(s.ofType("AWS::CloudWatch::Alarm"))
	for _, n := range s.nested {
		total += len(n.ofType("AWS::CloudWatch::Alarm"))
	}
	require.Greater(t, total, monitoringspec.AlarmWidgetMaxAlarms, "the largest cluster has more alarms than a widget holds")
	var shown []string
	for _, w := range v.alarmWidgets {
		assert.LessOrEqual(t, len(w), monitoringspec.AlarmWidgetMaxAlarms)
		shown = append(shown, w...)
	}
	var want []string
	for id := range s.ofType("AWS::CloudWatch::Alarm") {
		if strings.HasPrefix(id, "MonitoringTargetGroup") || regexp.MustCompile(`^MonitoringNode\d+(TasksBelowDesired|NotReporting)[0-9A-F]{8}$`).MatchString(id) {
			want = append(want, "<"+id+".Arn>")
		}
	}
	for i := stackspec.ClusterStackNodes; i < s.config.NodeCount; i++ {
		for _, what := range []string{"TasksBelowDesired", "NotReporting"} {
			output := fmt.Sprintf("Node%d%sArn", i, what)
			assert.Regexp(t, fmt.Sprintf(`^MonitoringNode%d%s[0-9A-F]{8}$`, i, what), ref(path(nestedNode(t, s, i).outputs[output], "Value")), "%s is node%d's alarm", output, i)
			pattern := regexp.MustCompile(fmt.Sprintf(`^<Node%dStackNestedStack\w+\.Outputs\.%s>$`, i, output))
			var found []string
			for _, a := range shown {
				if pattern.MatchString(a) {
					found = append(found, a)
				}
			}
			require.Len(t, found, 1, "node%d's %s alarm", i, what)
			want = append(want, found[0])
		}
	}
	assert.ElementsMatch(t, want, shown, "the load balancer's alarms and each node's tasks-below-desired and not-reporting")
	require.Len(t, v.notes, 1)
	assert.Contains(t, v.notes[0], fmt.Sprintf("%d alarms", total))
	assert.Contains(t, v.notes[0], "aws cloudwatch describe-alarms --state-value ALARM --alarm-name-prefix "+monitoringspec.AlarmNamePrefix(s.config.StackName, ""))
	assert.Contains(t, v.notes[0], "aws cloudwatch describe-alarms --alarm-name-prefix "+monitoringspec.AlarmNamePrefix(s.config.StackName, "node<i>"))
}

func TestMetricsCollectorSidecar(t *testing.T) {
	for _, s := range []*synthesized{defaults, privateSwarm} {
		metricsLog, _ := s.withPrefix(t, "AWS::Logs::LogGroup", "ClusterMetrics")
		for i := 0; i < s.config.NodeCount; i++ {
			defs := taskContainers(t, s, i)
			c := defs[node.CollectorContainerName]
			require.NotNil(t, c, "node%d runs the collector", i)
			// Image, user, file system and health check: private_images_test.go.
			assert.Nil(t, c["PortMappings"], "the collector listens on nothing")
			assert.Equal(t, false, c["Essential"], "a failing collector must not stop the peer")
			assert.Equal(t, true, c["ReadonlyRootFilesystem"])
			assert.NotEmpty(t, c["Memory"], "a hard memory limit of its own")

			var config string
			for _, kv := range list(c["Environment"]) {
				if path(kv, "Name") == monitoringspec.CollectorConfigVariable {
					for _, part := range list(path(kv, "Value", "Fn::Join", 1)) {
						if str, ok := part.(string); ok {
							config += str
						} else {
							assert.Equal(t, metricsLog, ref(part), "the only reference: the metrics log group")
							config += "<log group>"
						}
					}
				}
			}
			peer := nodespec.PeerName(i)
			assert.Contains(t, config, fmt.Sprintf(`targets: ["127.0.0.1:%d"]`, nodespec.MetricsPort), "scrapes the task's loopback only")
			assert.Contains(t, config, fmt.Sprintf(`labels: {stack: %q, peer: %q, region: %q}`, s.config.StackName, peer, s.config.RegionOf(i)))
			assert.Contains(t, config, "namespace: "+monitoringspec.Namespace)
			assert.Contains(t, config, "level: none", "the collector's own metrics would take :8888, the cluster's port")
			assert.NotContains(t, config, "$", "the collector expands ${...} in its configuration")

			env := map[string]any{}
			for _, kv := range list(defs[node.ClusterContainerName]["Environment"]) {
				env[path(kv, "Name").(string)] = path(kv, "Value")
			}
			assert.Equal(t, "true", env["CLUSTER_METRICS_ENABLESTATS"])
			assert.Equal(t, fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", nodespec.MetricsPort), env["CLUSTER_METRICS_PROMETHEUSENDPOINT"], "loopback: the endpoint also serves pprof")
		}
		for _, rule := range ingressRules(s) {
			assert.NotContains(t, rule, fmt.Sprint(nodespec.MetricsPort), "the metrics port is in no security group")
		}
	}
}

// TestTaskRoleWritesOnlyTheMetricsLog: the collector's permissions are the
// task role's (one role per task): write to the metrics log group, nothing
// of CloudWatch's own API, no wildcard resource.
func TestTaskRoleWritesOnlyTheMetricsLog(t *testing.T) {
	s := defaults
	metricsLog, _ := s.withPrefix(t, "AWS::Logs::LogGroup", "ClusterMetrics")
	for i := 0; i < s.config.NodeCount; i++ {
		_, task := s.withPrefix(t, "AWS::ECS::TaskDefinition", fmt.Sprintf("Node%dTask", i))
		roleID := ref(task.Properties["TaskRoleArn"])
		var logActions []string
		for _, policy := range s.ofType("AWS::IAM::Policy") {
			if !strings.Contains(fmt.Sprint(policy.Properties["Roles"]), roleID) {
				continue
			}
			for _, st := range list(path(policy.Properties, "PolicyDocument", "Statement")) {
				actions := fmt.Sprint(path(st, "Action"))
				assert.NotContains(t, actions, "cloudwatch:", "EMF needs no CloudWatch API")
				assert.NotContains(t, fmt.Sprint(path(st, "Resource")), "*", "node%d: %v", i, st)
				if strings.Contains(actions, "logs:") {
					logActions = append(logActions, actions)
					assert.Equal(t, metricsLog, ref(path(st, "Resource")), "node%d writes only the metrics log group", i)
				}
			}
		}
		assert.Equal(t, []string{"[logs:CreateLogStream logs:PutLogEvents]"}, logActions, "node%d", i)
	}
}

// TestNoCdkNagFindingsWithEveryOperationsOption: the operations options
// add stacks (the copy vault's region) and resources (burst alarms, the
// e-mail subscriptions, the copy action); cdk-nag stays at zero.
func TestNoCdkNagFindingsWithEveryOperationsOption(t *testing.T) {
	s := operations(t)
	var regions []string
	for id, st := range s.stacks {
		regions = append(regions, st.region)
		assert.Empty(t, st.nagFindings(), id)
	}
	sort.Strings(regions)
	assert.Equal(t, []string{s.config.BackupCopyRegion, s.config.Region, "us-east-1", "us-east-1"}, regions, "cluster, copy vault, Lambda@Edge and edge monitoring stacks")
}

func TestOperationsKeepTheDefaultSynthAccountFreeAndOffline(t *testing.T) {
	missing, err := missingContext(defaults.outDir)
	require.NoError(t, err)
	assert.Empty(t, missing, "no context lookup: the synth needs no AWS account or network")
	for _, stack := range []awscdk.Stack{defaults.stack.Stack, defaults.stack.EdgeMonitoring} {
		assert.True(t, *awscdk.Token_IsUnresolved(stack.Account()), "%s is environment-agnostic", *stack.StackName())
	}
}

// A fork's runbooks: every alarm of both regions links the configured page,
// with its section's anchor.
func TestAlarmsLinkTheConfiguredRunbooks(t *testing.T) {
	const page = "https://git.example.org/ops/ipfs-cluster/src/branch/main/docs/runbooks.md"
	s, err := synth(map[string]any{config.KeyRunbookBaseURL: page})
	require.NoError(t, err)
	described := 0
	for _, stack := range []awscdk.Stack{s.stack.Stack, s.stack.EdgeMonitoring} {
		for name, a := range alarmsByName(t, resourcesOf(t, s, stack)) {
			assert.Regexp(t, `Runbook: `+regexp.QuoteMeta(page)+`#[a-z-]+$`, a.Properties["AlarmDescription"], name)
			described++
		}
	}
	assert.Greater(t, described, 20)
}

// TestPSAMonitoringNamesAreChecked: the PSA's distribution and target
// group must be among those the monitoring watches; the edge's monitoring
// has no target groups and ignores that one.
func TestPSAMonitoringNamesAreChecked(t *testing.T) {
	s := defaults
	api := []monitoring.Distribution{{Name: "api", Distribution: s.stack.Edge.APIDistribution()}}
	edgeProps := &monitoring.EdgeProps{StackName: "S", Distributions: api, PSA: &monitoring.PSA{Distribution: "api", TargetGroup: "psa"}}
	assert.NoError(t, edgeProps.Validate())
	edgeProps.PSA.Distribution = "gateway"
	assert.ErrorContains(t, edgeProps.Validate(), `monitoring.EdgeProps.PSA.Distribution: "gateway" is not the Name of one of Distributions`)

	props := &monitoring.Props{Distributions: api, TargetGroups: []monitoring.TargetGroup{{Name: "restapi", Group: s.stack.LoadBalancer.RestAPITargetGroup}},
		PSA: &monitoring.PSA{Distribution: "api", TargetGroup: "psa"}}
	err := props.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `monitoring.Props.PSA.TargetGroup: "psa" is not the Name of one of TargetGroups`)
	assert.NotContains(t, err.Error(), "PSA.Distribution")
}
