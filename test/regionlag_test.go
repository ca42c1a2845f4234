package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// The cross-region pinset check, in an app of its own (no stack of this
// repository builds a second region yet): monitoring.New with OtherRegion
// in eu-west-1 over a minimal cluster, and NewRegionLag alone in us-east-2
// naming the other region's stack dimension. Built once, on first use, in
// the test binary's one jsii kernel.
const (
	lagStack       = "LagCluster"
	lagRegion      = "eu-west-1"
	lagOtherRegion = "us-east-2"
	lagOtherStack  = "LagCluster-second-region"
)

type regionLagFixture struct {
	// first holds monitoring.New with OtherRegion; second NewRegionLag.
	first, second *stackTemplate
}

var regionLagSynth *regionLagFixture

func regionLag(t *testing.T) *regionLagFixture {
	t.Helper()
	if regionLagSynth == nil {
		f, err := buildRegionLagFixture()
		require.NoError(t, err)
		regionLagSynth = f
	}
	return regionLagSynth
}

// lagTestCluster is what monitoring.New watches: one node's service, file
// system and log group, and a target group of the edge fixture's load
// balancer.
func lagTestCluster(stack awscdk.Stack) (awsecs.ICluster, monitoring.Node, monitoring.TargetGroup) {
	alb := edgeTestALB(stack)
	vpc := alb.Vpc()
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: vpc, ContainerInsightsV2: awsecs.ContainerInsights_ENABLED})
	task := awsecs.NewFargateTaskDefinition(stack, jsii.String("Task"), nil)
	logs := awslogs.NewLogGroup(stack, jsii.String("ClusterLogs"), nil)
	task.AddContainer(jsii.String("cluster"), &awsecs.ContainerDefinitionOptions{
		Image:   awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/busybox:stable"), nil),
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{LogGroup: logs, StreamPrefix: jsii.String("cluster")}),
	})
	service := awsecs.NewFargateService(stack, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster: cluster, TaskDefinition: task,
		VpcSubnets: &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
	})
	fs := awsefs.NewFileSystem(stack, jsii.String("FileSystem"), &awsefs.FileSystemProps{Vpc: vpc, RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	tg := awselasticloadbalancingv2.NewApplicationTargetGroup(stack, jsii.String("Targets"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
		Vpc: vpc, Port: jsii.Number(8080), Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP, TargetType: awselasticloadbalancingv2.TargetType_IP,
	})
	alb.AddListener(jsii.String("Lag"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port: jsii.Number(8081), Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP, Open: jsii.Bool(false),
		DefaultTargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{tg},
	})
	// The fixture's cluster is not under test: the node and network
	// constructs are checked in the app fixtures.
	fixture := &[]*cdknag.NagPackSuppression{}
	for _, id := range []string{"VPC7", "ECS2", "ECS4", "ECS7", "EFS1", "IAM5"} {
		*fixture = append(*fixture, &cdknag.NagPackSuppression{Id: jsii.String("AwsSolutions-" + id), Reason: jsii.String("test fixture, not the monitoring under test")})
	}
	for _, c := range []awscdk.Resource{cluster, task, service, fs} {
		cdknag.NagSuppressions_AddResourceSuppressions(c, fixture, jsii.Bool(true))
	}
	return cluster, monitoring.Node{Name: "node0", Service: service, FileSystem: fs, ClusterLogGroup: logs}, monitoring.TargetGroup{Name: "gateway", Group: tg}
}

func buildRegionLagFixture() (*regionLagFixture, error) {
	cdkApp, outDir, err := newApp(nil)
	if err != nil {
		return nil, err
	}
	var first, second awscdk.Stack
	err = catch(func() error {
		awscdk.Aspects_Of(cdkApp).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		first = awscdk.NewStack(cdkApp, jsii.String("LagFirst"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(lagRegion)}})
		cluster, node, tg := lagTestCluster(first)
		if _, err := monitoring.New(first, "Monitoring", &monitoring.Props{
			StackName: lagStack, Cluster: cluster, Nodes: []monitoring.Node{node}, TargetGroups: []monitoring.TargetGroup{tg},
			StorageMaxBytes: 1 << 30, OtherRegion: lagOtherRegion,
		}); err != nil {
			return err
		}
		second = awscdk.NewStack(cdkApp, jsii.String("LagSecond"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(lagOtherRegion)}})
		topic := awssns.NewTopic(second, jsii.String("Topic"), &awssns.TopicProps{EnforceSSL: jsii.Bool(true)})
		cdknag.NagSuppressions_AddResourceSuppressions(topic, &[]*cdknag.NagPackSuppression{{Id: jsii.String("AwsSolutions-SNS2"), Reason: jsii.String("test fixture, not the monitoring under test")}}, nil)
		if _, err := monitoring.NewRegionLag(second, "RegionLag", &monitoring.RegionLagProps{
			StackName: lagOtherStack, OtherRegion: lagRegion, OtherStackName: lagStack, Topic: topic,
			RunbookURL: "https://git.example.org/ops/runbooks.md",
		}); err != nil {
			return err
		}
		cdkApp.Synth(nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	assembly, err := loadAssembly(outDir)
	if err != nil {
		return nil, err
	}
	return &regionLagFixture{first: assembly[*first.ArtifactId()], second: assembly[*second.ArtifactId()]}, nil
}

// functionConfig is the REGION_LAG variable of a stack's check function.
func functionConfig(t *testing.T, st *stackTemplate) (string, resource, map[string]any) {
	t.Helper()
	var ids []string
	for id, fn := range st.ofType("AWS::Lambda::Function") {
		if path(fn.Properties, "Environment", "Variables", "REGION_LAG") != nil {
			ids = append(ids, id)
		}
	}
	require.Len(t, ids, 1, "%s: one check function", st.artifactID)
	fn := st.resources[ids[0]]
	var cfg map[string]any
	require.NoError(t, json.Unmarshal([]byte(path(fn.Properties, "Environment", "Variables", "REGION_LAG").(string)), &cfg))
	return ids[0], fn, cfg
}

func TestRegionLagFunctionReadsBothRegions(t *testing.T) {
	f := regionLag(t)
	code, err := os.ReadFile(filepath.Join(absRepoRoot(t), "constructs", "monitoring", "regionlag", "index.js"))
	require.NoError(t, err)
	for _, x := range []struct {
		st                                     *stackTemplate
		stack, region, otherStack, otherRegion string
	}{
		{f.first, lagStack, lagRegion, lagStack, lagOtherRegion},
		{f.second, lagOtherStack, lagOtherRegion, lagStack, lagRegion},
	} {
		id, fn, cfg := functionConfig(t, x.st)
		assert.Equal(t, string(code), path(fn.Properties, "Code", "ZipFile"), "the code is regionlag/index.js, inline")
		assert.LessOrEqual(t, len(code), monitoring.MaxInlineCodeLength)
		assert.Equal(t, "nodejs24.x", fn.Properties["Runtime"])
		assert.Equal(t, "index.handler", fn.Properties["Handler"])
		assert.Nil(t, fn.Properties["VpcConfig"], "outside any VPC: it reaches both regions' CloudWatch")
		assert.Equal(t, map[string]any{
			"namespace": monitoringspec.Namespace, "pinsMetric": monitoringspec.MetricPins,
			"stackDimension": monitoringspec.DimensionStack, "regionDimension": monitoringspec.DimensionRegion, "otherRegionDimension": monitoringspec.DimensionOtherRegion,
			"stack": x.stack, "region": x.region, "otherStack": x.otherStack, "otherRegion": x.otherRegion,
			"lagMetric": monitoringspec.MetricOtherRegionPinsetLag, "reportingMetric": monitoringspec.MetricOtherRegionReporting,
			"windowMinutes": float64(monitoringspec.RegionLagWindowMinutes), "lookbackMinutes": float64(monitoringspec.RegionReportingLookbackMinutes),
		}, cfg, "%s in %s compares with %s", x.stack, x.region, x.otherRegion)

		var rules []resource
		for _, rule := range x.st.ofType("AWS::Events::Rule") {
			if rule.Properties["ScheduleExpression"] != nil {
				rules = append(rules, rule)
			}
		}
		require.Len(t, rules, 1, "%s: one schedule", x.st.artifactID)
		for _, rule := range rules {
			assert.Equal(t, fmt.Sprintf("rate(%d minutes)", monitoringspec.RegionLagScheduleMinutes), rule.Properties["ScheduleExpression"])
			assert.Equal(t, id, ref(path(rule.Properties, "Targets", 0, "Arn")), "the schedule runs the check")
		}

		// Least privilege: its own log group, GetMetricData, PutMetricData
		// in the cluster's namespace only.
		byAction := map[string]any{}
		for _, st := range statementsOf(x.st, ref(fn.Properties["Role"])) {
			byAction[fmt.Sprint(path(st, "Action"))] = st
		}
		require.Len(t, byAction, 3, "%s: %v", x.st.artifactID, byAction)
		assert.Equal(t, "*", path(byAction["cloudwatch:GetMetricData"], "Resource"))
		assert.Equal(t, map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": monitoringspec.Namespace}}, path(byAction["cloudwatch:PutMetricData"], "Condition"))
		logGroup := ref(path(byAction["[logs:CreateLogStream logs:PutLogEvents]"], "Resource"))
		assert.Equal(t, logGroup, ref(path(fn.Properties, "LoggingConfig", "LogGroup")), "writes the log group it logs to")
		assert.Nil(t, x.st.resources[ref(fn.Properties["Role"])].Properties["ManagedPolicyArns"], "a role of its own, no managed policy")
	}
}

func TestRegionLagAlarms(t *testing.T) {
	f := regionLag(t)
	for _, x := range []struct {
		st                 *stackTemplate
		stack, otherRegion string
		runbooks           string
	}{
		{f.first, lagStack, lagOtherRegion, monitoringspec.DefaultRunbookURL},
		{f.second, lagOtherStack, lagRegion, "https://git.example.org/ops/runbooks.md"},
	} {
		alarms := alarmsByName(t, x.st.resources)
		topics := byType(x.st.resources, "AWS::SNS::Topic")
		require.Len(t, topics, 1)
		topic := alarmNames(topics)[0]
		dims := map[string]any{monitoringspec.DimensionStack: x.stack, monitoringspec.DimensionOtherRegion: x.otherRegion}

		behind, ok := alarms[monitoringspec.AlarmName(x.stack, x.otherRegion, "pinset-behind")]
		require.True(t, ok, "%s: %v", x.st.artifactID, alarmNames(alarms))
		assertAlarm(t, behind, "GreaterThanOrEqualToThreshold", 1, monitoringspec.RegionLagPeriods, monitoringspec.RegionLagPeriods, "notBreaching")
		assert.Equal(t, map[string]map[string]any{monitoringspec.Namespace + "/" + monitoringspec.MetricOtherRegionPinsetLag: dims}, metricStats(behind))
		assert.EqualValues(t, monitoringspec.RegionLagScheduleMinutes*60, behind.Properties["Period"])
		assert.Equal(t, "Minimum", behind.Properties["Statistic"], "behind in every run of the period")
		assert.Regexp(t, `Runbook: `+regexp.QuoteMeta(x.runbooks+monitoringspec.RunbookRegionBehind)+`$`, behind.Properties["AlarmDescription"])

		silent, ok := alarms[monitoringspec.AlarmName(x.stack, x.otherRegion, "not-reporting")]
		require.True(t, ok)
		assertAlarm(t, silent, "LessThanThreshold", 1, monitoringspec.RegionNotReportingPeriods, monitoringspec.RegionNotReportingPeriods, "breaching")
		assert.Equal(t, map[string]map[string]any{monitoringspec.Namespace + "/" + monitoringspec.MetricOtherRegionReporting: dims}, metricStats(silent))
		assert.Regexp(t, `Runbook: `+regexp.QuoteMeta(x.runbooks+monitoringspec.RunbookRegionNotReporting)+`$`, silent.Properties["AlarmDescription"])

		for name, a := range map[string]resource{"behind": behind, "silent": silent} {
			assert.Equal(t, []any{map[string]any{"Ref": topic}}, a.Properties["AlarmActions"], name)
			assert.Equal(t, []any{map[string]any{"Ref": topic}}, a.Properties["OKActions"], name)
		}
	}
}

func TestRegionLagOnTheDashboard(t *testing.T) {
	f := regionLag(t)
	dashboards := f.first.ofType("AWS::CloudWatch::Dashboard")
	require.Len(t, dashboards, 1)
	var body map[string]any
	for _, d := range dashboards {
		require.NoError(t, json.Unmarshal([]byte(dashboardText(d)), &body))
	}
	var sections, shown []string
	var graphs []map[string]any
	current := ""
	for _, w := range list(body["widgets"]) {
		props, _ := path(w, "properties").(map[string]any)
		switch path(w, "type") {
		case "text":
			if title, ok := strings.CutPrefix(strings.SplitN(props["markdown"].(string), "\n", 2)[0], "## "); ok {
				current = title
				sections = append(sections, title)
			}
		case "metric":
			if current == monitoring.SectionRegions {
				graphs = append(graphs, props)
			}
		case "alarm":
			for _, a := range list(props["alarms"]) {
				shown = append(shown, a.(string))
			}
		}
	}
	assert.Equal(t, []string{monitoring.SectionAlarms, monitoring.SectionNodes, monitoring.SectionFileSystems, monitoring.SectionLoadBalancer, monitoring.SectionCluster, monitoring.SectionRegions}, sections)
	var want []string
	for id := range f.first.ofType("AWS::CloudWatch::Alarm") {
		want = append(want, "<"+id+".Arn>")
	}
	assert.ElementsMatch(t, want, shown, "every alarm of the region, the region-lag ones included")
	require.Len(t, graphs, 3)
	// Both regions' pinsets side by side, each read in its own region.
	var pinsets []string
	for _, m := range list(graphs[0]["metrics"]) {
		// [namespace, name, dimension, value, dimension, value, options]
		line := list(m)
		require.Len(t, line, 7, "%v", line)
		assert.Equal(t, []any{monitoringspec.Namespace, monitoringspec.MetricPins}, line[:2])
		opts := line[6].(map[string]any)
		assert.Equal(t, "Maximum", opts["stat"], "the best-informed peer of the region")
		dims := map[string]any{line[2].(string): line[3], line[4].(string): line[5]}
		region := fmt.Sprint(opts["region"])
		stack := map[string]string{lagRegion: lagStack, lagOtherRegion: lagStack}[region]
		assert.Equal(t, map[string]any{monitoringspec.DimensionRegion: region, monitoringspec.DimensionStack: stack}, dims, "read in the region it is of")
		pinsets = append(pinsets, region)
	}
	assert.ElementsMatch(t, []string{lagRegion, lagOtherRegion}, pinsets)
	raw, err := json.Marshal(graphs[1:])
	require.NoError(t, err)
	for _, m := range []string{monitoringspec.MetricOtherRegionPinsetLag, monitoringspec.MetricOtherRegionReporting} {
		assert.Contains(t, string(raw), `"`+m+`"`)
	}
}

func TestRegionLagHasNoCdkNagFindings(t *testing.T) {
	f := regionLag(t)
	for _, st := range []*stackTemplate{f.first, f.second} {
		assert.Empty(t, st.nagFindings(), st.artifactID)
		assert.Empty(t, st.errors(), st.artifactID)
	}
}

func TestRegionLagPropsValidate(t *testing.T) {
	err := (&monitoring.RegionLagProps{OtherRegion: "mars-1", Region: "eu-west-1", RunbookURL: "http://x"}).Validate()
	var fields []string
	for _, p := range propcheck.Problems(err) {
		fields = append(fields, p.Field)
	}
	assert.ElementsMatch(t, []string{"StackName", "OtherRegion", "Topic", "RunbookURL"}, fields, "%v", err)
	err = (&monitoring.RegionLagProps{StackName: "s", Region: "eu-west-1", OtherRegion: "eu-west-1", Topic: awssns.Topic_FromTopicArn(awscdk.NewStack(nil, nil, nil), jsii.String("T"), jsii.String("arn:aws:sns:eu-west-1:123456789012:t"))}).Validate()
	assert.ErrorContains(t, err, "OtherRegion")
	assert.EqualError(t, (*monitoring.RegionLagProps)(nil).Validate(), "monitoring.RegionLagProps: required (nil)")

	err = (&monitoring.Props{OtherRegionStackName: "x"}).Validate()
	assert.ErrorContains(t, err, "monitoring.Props.OtherRegionStackName")
	err = (&monitoring.Props{OtherRegion: "cn-north-1"}).Validate()
	assert.ErrorContains(t, err, "monitoring.Props.OtherRegion")
}
