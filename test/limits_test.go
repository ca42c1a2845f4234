package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/stackspec"
)

// What CloudFormation would refuse, checked on every template file of the
// largest configuration the app accepts (and of the default one).

// templateSize is what CloudFormation counts of one template file.
type templateSize struct {
	file                           string
	resources, outputs, parameters int
	bytes                          int64
	nested                         bool
}

func templateSizes(t *testing.T, s *synthesized) []templateSize {
	t.Helper()
	files, err := templateFiles(s.outDir)
	require.NoError(t, err)
	var out []templateSize
	for _, file := range files {
		var doc struct {
			Resources, Outputs, Parameters map[string]any
		}
		require.NoError(t, readJSONFile(file, &doc))
		info, err := os.Stat(file)
		require.NoError(t, err)
		out = append(out, templateSize{
			file: filepath.Base(file), resources: len(doc.Resources), outputs: len(doc.Outputs), parameters: len(doc.Parameters),
			bytes: info.Size(), nested: strings.HasSuffix(file, nestedTemplateSuffix),
		})
	}
	return out
}

func TestEveryTemplateFitsCloudFormation(t *testing.T) {
	for _, s := range []*synthesized{defaults, allFeatures} {
		sizes := templateSizes(t, s)
		nested := 0
		for _, size := range sizes {
			t.Logf("%d nodes: %-60s %3d resources %3d outputs %3d parameters %7d bytes", s.config.NodeCount, size.file, size.resources, size.outputs, size.parameters, size.bytes)
			assert.LessOrEqual(t, size.resources, stackspec.MaxResources, size.file)
			assert.LessOrEqual(t, size.outputs, stackspec.MaxOutputs, size.file)
			assert.LessOrEqual(t, size.parameters, stackspec.MaxParameters, size.file)
			assert.LessOrEqual(t, size.bytes, int64(stackspec.MaxTemplateBytes), size.file)
			if size.nested {
				nested++
			}
		}
		// Every stack of the app was looked at: the cluster, edge, edge
		// monitoring (and backup copy) stacks and one nested stack per node
		// beyond the cluster stack's.
		assert.Len(t, sizes, len(s.stacks)+max(0, s.config.NodeCount-stackspec.ClusterStackNodes))
		assert.Equal(t, max(0, s.config.NodeCount-stackspec.ClusterStackNodes), nested)
	}
	assert.Equal(t, stackspec.MaxNodes(), allFeatures.config.NodeCount)
}

// nodeIndex matches the logical IDs of one node's resources in the cluster
// stack: the node's own and its alarms and metric filters.
var nodeIndex = regexp.MustCompile(`^(?:Monitoring)?Node(\d+)[A-Z]`)

func TestResourceBudgetsHold(t *testing.T) {
	s := allFeatures
	perNode := map[int]int{}
	for id, r := range s.resources {
		if m := nodeIndex.FindStringSubmatch(id); m != nil && r.Type != "AWS::CloudFormation::Stack" {
			i, err := strconv.Atoi(m[1])
			require.NoError(t, err)
			perNode[i]++
		}
	}
	require.Len(t, perNode, stackspec.ClusterStackNodes, "nodes in the cluster stack")
	inNodes := 0
	for i, n := range perNode {
		assert.True(t, stackspec.InClusterStack(i), "node %d", i)
		assert.LessOrEqual(t, n, stackspec.NodeResources, "node %d in the cluster stack", i)
		inNodes += n
	}
	require.Len(t, s.nested, s.config.NodeCount-stackspec.ClusterStackNodes)
	for file, n := range s.nested {
		// Beside the node, a nested template has only CDK's version
		// metadata (what `cdk synth` adds to every stack).
		assert.LessOrEqual(t, len(n.resources)-len(n.ofType("AWS::CDK::Metadata")), stackspec.NodeResources, file)
	}
	nestedStacks := s.exactly(t, len(s.nested), "AWS::CloudFormation::Stack")
	fixed := len(s.resources) - inNodes - len(nestedStacks)*stackspec.NestedNodeResources
	t.Logf("cluster stack: %d fixed resources (budget %d), %d per node (budget %d), %d nested stacks", fixed, stackspec.FixedResources, perNode[0], stackspec.NodeResources, len(nestedStacks))
	assert.LessOrEqual(t, fixed, stackspec.FixedResources)
}

func TestNodeCountBoundIsWhatFits(t *testing.T) {
	ctx := cdkJSONContext(nil)
	ctx[config.KeyNodeCount] = stackspec.MaxNodes()
	_, err := config.Parse(ctx)
	require.NoError(t, err)
	ctx[config.KeyNodeCount] = stackspec.MaxNodes() + 1
	_, err = config.Parse(ctx)
	require.ErrorContains(t, err, fmt.Sprintf("%s: %d is out of range; allowed: %d to %d", config.KeyNodeCount, stackspec.MaxNodes()+1, config.MinNodes, stackspec.MaxNodes()))
	// The peers' mesh bounds it today; the resource budget allows more.
	assert.Equal(t, nodespec.MaxPeers, stackspec.MaxNodes())
}

// nestedNode returns the template of node i's nested stack.
func nestedNode(t *testing.T, s *synthesized, i int) *stackTemplate {
	t.Helper()
	var found []*stackTemplate
	for file, n := range s.nested {
		if regexp.MustCompile(fmt.Sprintf(`Node%dStack[0-9A-F]{8}\.nested`, i)).MatchString(file) {
			found = append(found, n)
		}
	}
	require.Len(t, found, 1, "nested stack of node %d", i)
	return found[0]
}

func TestNodesBeyondTheClusterStackHaveANestedStackEach(t *testing.T) {
	s := allFeatures
	k := stackspec.ClusterStackNodes
	for i := 0; i < k; i++ {
		s.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
		s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
	}
	stackOf := func(i int) string {
		id, _ := s.withPrefix(t, "AWS::CloudFormation::Stack", fmt.Sprintf("Node%dStack", i))
		return id
	}
	for i := k; i < s.config.NodeCount; i++ {
		n := nestedNode(t, s, i)
		peer := nodespec.PeerName(i)
		_, fs := n.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
		assert.Equal(t, s.config.ZoneOf(i), fs.Properties["AvailabilityZoneName"], peer)
		n.exactly(t, 1, "AWS::EFS::MountTarget")
		n.exactly(t, 2, "AWS::EFS::AccessPoint")
		_, service := n.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
		assert.Len(t, list(service.Properties["LoadBalancers"]), 3, "%s: gateway, REST API and Pinning Service API target groups", peer)
		_, discovery := n.withPrefix(t, "AWS::ServiceDiscovery::Service", fmt.Sprintf("Node%dService", i))
		assert.Equal(t, peer, discovery.Properties["Name"])
		// The node's alarms and metric filters are beside it, the cluster
		// stack has none of them.
		alarms := n.ofType("AWS::CloudWatch::Alarm")
		assert.Len(t, alarms, len(perNodeAlarms(t, s, 0)), peer)
		for id, alarm := range alarms {
			assert.Contains(t, alarm.Properties["AlarmName"], "-"+peer+"-", id)
			assert.Regexp(t, `Runbook: `+regexp.QuoteMeta(monitoringspec.DefaultRunbookURL)+`#[a-z-]+$`, alarm.Properties["AlarmDescription"], "%s: %s links its runbook", peer, id)
		}
		n.exactly(t, 2, "AWS::Logs::MetricFilter")
		assert.Empty(t, perNodeAlarms(t, s, i), "%s's alarms in the cluster stack", peer)

		// Rolling order: the nested stack waits for the previous node's
		// service, in this stack or in its own nested stack.
		var prev string
		if i == k {
			prev, _ = s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i-1))
		} else {
			prev = stackOf(i - 1)
		}
		assert.Contains(t, s.resources[stackOf(i)].DependsOn, prev, "%s rolls after node %d", peer, i-1)
	}

	// What reaches across: every node is backed up, on the dashboard and in
	// the outputs.
	_, selection := s.withPrefix(t, "AWS::Backup::BackupSelection", "BackupPlan")
	assert.Len(t, list(path(selection.Properties, "BackupSelection", "Resources")), s.config.NodeCount)
	serviceNames := list(path(s.outputs["NodeServiceNames"], "Value", "Fn::Join", 1))
	assert.Len(t, serviceNames, 2*s.config.NodeCount-1, "service names and commas")
	_, dashboard := s.withPrefix(t, "AWS::CloudWatch::Dashboard", "MonitoringDashboard")
	body, err := json.Marshal(dashboard.Properties["DashboardBody"])
	require.NoError(t, err)
	for i := k; i < s.config.NodeCount; i++ {
		assert.Regexp(t, fmt.Sprintf(`"Node%dStackNestedStack\w+","Outputs.Node%dTasksBelowDesiredArn"`, i, i), string(body), "node %d's alarms on the dashboard", i)
		assert.Regexp(t, fmt.Sprintf(`"Node%dStackNestedStack\w+","Outputs.DashboardFileSystemId"`, i), string(body), "node %d's file system on the dashboard", i)
	}
}

// perNodeAlarms returns the alarms of node i in the cluster stack.
func perNodeAlarms(t *testing.T, s *synthesized, i int) map[string]resource {
	t.Helper()
	out := map[string]resource{}
	for id, r := range s.ofType("AWS::CloudWatch::Alarm") {
		if m := nodeIndex.FindStringSubmatch(id); m != nil && m[1] == strconv.Itoa(i) {
			out[id] = r
		}
	}
	return out
}

func TestCdkNagChecksTheNestedStacks(t *testing.T) {
	s := allFeatures
	for id, st := range s.stacks {
		assert.Empty(t, st.nagFindings(), id)
		assert.Empty(t, st.errors(), id)
	}
	// cdk-nag writes a report per nested stack: the rules ran there and the
	// node's suppressions applied.
	for i := stackspec.ClusterStackNodes; i < s.config.NodeCount; i++ {
		reports, err := filepath.Glob(filepath.Join(s.outDir, fmt.Sprintf("AwsSolutions-*Node%dStack*-NagReport.csv", i)))
		require.NoError(t, err)
		require.Len(t, reports, 1, "node %d", i)
		raw, err := os.ReadFile(reports[0])
		require.NoError(t, err)
		report := string(raw)
		assert.NotContains(t, report, "Non-Compliant", reports[0])
		assert.Regexp(t, `"AwsSolutions-ECS2","[^"]*/Node`+strconv.Itoa(i)+`/Task/Resource","Suppressed"`, report)
	}
}

// The alarm names of nodes in nested stacks are the same as they would be in
// the cluster stack: the alarm's place does not show in its name.
func TestNestedAlarmNamesFollowTheSpec(t *testing.T) {
	n := nestedNode(t, allFeatures, stackspec.ClusterStackNodes)
	peer := nodespec.PeerName(stackspec.ClusterStackNodes)
	_, alarm := n.withPrefix(t, "AWS::CloudWatch::Alarm", fmt.Sprintf("MonitoringNode%dTasksBelowDesired", stackspec.ClusterStackNodes))
	assert.Equal(t, monitoringspec.AlarmName(allFeatures.config.StackName, peer, "tasks-below-desired"), alarm.Properties["AlarmName"])
}

// The heaviest two-region app (twoRegions): each of its stacks within
// CloudFormation's quotas, and each region's cluster stack within its
// budget.
func TestTwoRegionTemplatesFitCloudFormation(t *testing.T) {
	s := twoRegions
	network, cluster := secondRegion(t, s)
	require.Equal(t, nodespec.MaxPeers, s.config.TotalNodes())
	for _, size := range templateSizes(t, s) {
		t.Logf("%d+%d nodes: %-70s %3d resources %3d outputs %3d parameters %7d bytes", s.config.NodeCount, s.config.SecondRegionNodeCount, size.file, size.resources, size.outputs, size.parameters, size.bytes)
		assert.LessOrEqual(t, size.resources, stackspec.MaxResources, size.file)
		assert.LessOrEqual(t, size.outputs, stackspec.MaxOutputs, size.file)
		assert.LessOrEqual(t, size.parameters, stackspec.MaxParameters, size.file)
		assert.LessOrEqual(t, size.bytes, int64(stackspec.MaxTemplateBytes), size.file)
	}
	// Fixed resources and nodes of each region's cluster stack.
	count := func(st *stackTemplate) (fixed int, perNode map[int]int) {
		perNode = map[int]int{}
		for id, r := range st.resources {
			if m := nodeIndex.FindStringSubmatch(id); m != nil && r.Type != "AWS::CloudFormation::Stack" {
				i, err := strconv.Atoi(m[1])
				require.NoError(t, err)
				perNode[i]++
			} else if r.Type != "AWS::CloudFormation::Stack" {
				fixed++
			}
		}
		return fixed, perNode
	}
	fixed, perNode := count(s.stackTemplate)
	t.Logf("cluster stack: %d fixed resources (budget %d + %d)", fixed, stackspec.FixedResources, stackspec.SecondRegionResources)
	assert.LessOrEqual(t, fixed, stackspec.FixedResources+stackspec.SecondRegionResources)
	assert.Len(t, perNode, stackspec.ClusterStackNodes)
	secondFixed, secondPerNode := count(cluster)
	t.Logf("second region's cluster stack: %d fixed resources (budget %d); network stack: %d resources", secondFixed, stackspec.SecondRegionFixedResources, len(network.resources))
	assert.LessOrEqual(t, secondFixed, stackspec.SecondRegionFixedResources)
	assert.Len(t, secondPerNode, stackspec.ClusterStackNodes)
	for i, n := range secondPerNode {
		assert.GreaterOrEqual(t, i, nodespec.SecondRegionFirstIndex)
		assert.LessOrEqual(t, n, stackspec.NodeResources, "node %d", i)
	}
	// The most first-region nodes the configuration allows beside a second
	// region fit the cluster stack with the second region's additions; the
	// most second-region nodes it allows fit the second region's stack.
	mostFirst := min(stackspec.MaxNodesWithSecondRegion(), nodespec.MaxPeers-config.MinNodes)
	mostSecond := nodespec.MaxPeers - config.MinNodes
	assert.LessOrEqual(t, stackspec.FixedResources+stackspec.SecondRegionResources+stackspec.ClusterStackNodes*stackspec.NodeResources+(mostFirst-stackspec.ClusterStackNodes)*stackspec.NestedNodeResources, stackspec.MaxResources)
	assert.LessOrEqual(t, stackspec.SecondRegionFixedResources+stackspec.ClusterStackNodes*stackspec.NodeResources+(mostSecond-stackspec.ClusterStackNodes)*stackspec.NestedNodeResources, stackspec.MaxResources)
	assert.GreaterOrEqual(t, mostFirst, nodespec.MaxPeers/2, "a second region must allow an even split of the peers")
}
