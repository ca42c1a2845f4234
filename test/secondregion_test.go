package test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/clustersecrets"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/stackspec"
)

// Issue 16: one cluster over two regions. The second region's network
// stack (S1), the cluster stack (A) and the second region's cluster stack
// (S2), checked on the heaviest two-region app and on cdk.json with a
// second region.

func twoRegionApps() []*synthesized { return []*synthesized{twoRegions, twoRegionsPublic} }

// secondRegion returns the templates of S1 and S2.
func secondRegion(t *testing.T, s *synthesized) (network, cluster *stackTemplate) {
	t.Helper()
	second := s.stack.SecondRegion
	require.NotNil(t, second)
	network, cluster = s.stacks[*second.Network.ArtifactId()], s.stacks[*second.Stack.ArtifactId()]
	require.NotNil(t, network)
	require.NotNil(t, cluster)
	return network, cluster
}

// crossRegion tells whether v is a value CDK's cross-region references
// bring into the stack (a parameter its ExportsReader read).
func crossRegion(v any) bool { return strings.HasPrefix(ref(v), "ExportsReader") }

// importedFrom tells whether v is an export of the stack named stackName
// (a same-region cross-stack reference).
func importedFrom(v any, stackName string) bool {
	name, ok := path(v, "Fn::ImportValue").(string)
	return ok && strings.HasPrefix(name, stackName+":")
}

func TestSecondRegionStacksDeployInOrder(t *testing.T) {
	for _, s := range twoRegionApps() {
		network, cluster := secondRegion(t, s)
		assert.Equal(t, s.config.SecondRegion, network.region)
		assert.Equal(t, s.config.SecondRegion, cluster.region)
		assert.Equal(t, s.config.Region, s.region)
		assert.True(t, strings.HasSuffix(network.stackName, stacks.SecondRegionNetworkSuffix), network.stackName)
		assert.True(t, strings.HasSuffix(cluster.stackName, stacks.SecondRegionSuffix), cluster.stackName)
		assert.LessOrEqual(t, len(network.stackName), 128)
		second := s.stack.SecondRegion
		// S1 -> A -> S2.
		assert.Empty(t, stackDependencies(second.Network))
		assert.Contains(t, stackDependencies(s.stack.Stack), *second.Network.StackName())
		assert.Contains(t, stackDependencies(second.Stack), *second.Network.StackName())
		assert.Contains(t, stackDependencies(second.Stack), *s.stack.StackName())
		assert.NotContains(t, stackDependencies(second.Network), *s.stack.StackName())
	}
}

func TestPeeringConnectsTheTwoVpcs(t *testing.T) {
	for _, s := range twoRegionApps() {
		_, cluster := secondRegion(t, s)
		peerings := s.exactly(t, 1, "AWS::EC2::VPCPeeringConnection")
		var peeringID string
		for id, p := range peerings {
			peeringID = id
			assert.Equal(t, s.config.SecondRegion, p.Properties["PeerRegion"])
			assert.True(t, crossRegion(p.Properties["PeerVpcId"]), "the second region's VPC: %v", p.Properties["PeerVpcId"])
			vpcID, _ := s.withPrefix(t, "AWS::EC2::VPC", "NetworkVpc")
			assert.Equal(t, vpcID, ref(p.Properties["VpcId"]))
			// Same account: CloudFormation accepts it, no role.
			assert.Nil(t, p.Properties["PeerRoleArn"])
			assert.Nil(t, p.Properties["PeerOwnerId"])
		}

		// A: the tasks' subnets (public with a public swarm, isolated
		// otherwise), one per zone, route the second VPC through it.
		zones := map[string]bool{}
		for _, route := range routesTo(s.stackTemplate, s.config.SecondRegionVpcCidr) {
			assert.Equal(t, map[string]any{"Fn::GetAtt": []any{peeringID, "Id"}}, route.Properties["VpcPeeringConnectionId"])
			subnet := subnetOfTable(t, s.stackTemplate, ref(route.Properties["RouteTableId"]))
			zones[subnetZone(t, s.stackTemplate, map[string]any{"Ref": subnet})] = true
			assert.Equal(t, s.config.PublicSwarm, strings.Contains(subnet, "public"), "%s: the nodes' subnet", subnet)
		}
		assert.Len(t, zones, len(s.config.AvailabilityZones), "a route in each zone's task subnet")

		// S2: back through the same connection from the second VPC's task
		// subnets (S1's route tables).
		back := routesTo(cluster, s.config.VpcCidr)
		require.Len(t, back, len(s.config.SecondRegionAvailabilityZones))
		for id, route := range back {
			assert.True(t, crossRegion(route.Properties["VpcPeeringConnectionId"]), id)
			table, _ := path(route.Properties["RouteTableId"], "Fn::ImportValue").(string)
			assert.True(t, importedFrom(route.Properties["RouteTableId"], secondRegionNetworkName(t, s)), id)
			assert.Equal(t, s.config.PublicSwarm, strings.Contains(table, "public"), "%s: the nodes' subnet", table)
		}
		// Nothing routes the peer range elsewhere.
		for _, st := range s.stacks {
			for id, route := range st.ofType("AWS::EC2::Route") {
				if route.Properties["VpcPeeringConnectionId"] != nil {
					assert.Contains(t, []any{s.config.VpcCidr, s.config.SecondRegionVpcCidr}, route.Properties["DestinationCidrBlock"], id)
				}
			}
		}
	}
}

// stackDependencies names the stacks st depends on.
func stackDependencies(st awscdk.Stack) []string {
	var out []string
	for _, d := range *st.Dependencies() {
		out = append(out, *d.StackName())
	}
	return out
}

func secondRegionNetworkName(t *testing.T, s *synthesized) string {
	network, _ := secondRegion(t, s)
	return network.stackName
}

// routesTo returns the routes of a stack to cidr, after requiring that
// there are some.
func routesTo(s *stackTemplate, cidr string) map[string]resource {
	out := map[string]resource{}
	for id, route := range s.ofType("AWS::EC2::Route") {
		if route.Properties["DestinationCidrBlock"] == cidr {
			out[id] = route
		}
	}
	return out
}

// subnetOfTable returns the subnet a route table is associated with.
func subnetOfTable(t *testing.T, s *stackTemplate, table string) string {
	t.Helper()
	var subnets []string
	for _, assoc := range s.ofType("AWS::EC2::SubnetRouteTableAssociation") {
		if ref(assoc.Properties["RouteTableId"]) == table {
			subnets = append(subnets, ref(assoc.Properties["SubnetId"]))
		}
	}
	require.Len(t, subnets, 1, "subnet of route table %s", table)
	return subnets[0]
}

// peerRules are the ingress rules of a stack from cidr.
func peerRules(s *stackTemplate, cidr string) []string {
	var out []string
	for _, rule := range ingressRulesOf(s) {
		if strings.Contains(rule, " <- "+cidr+" ") {
			out = append(out, rule)
		}
	}
	return out
}

func TestPeersAdmitTheOtherRegionsPeersOnly(t *testing.T) {
	for _, s := range twoRegionApps() {
		network, cluster := secondRegion(t, s)
		want := func(cidr string) []string {
			rules := []string{fmt.Sprintf("PeerSecurityGroup <- %s tcp/%d-%d", cidr, node.ClusterSwarmPort, node.ClusterSwarmPort)}
			if !s.config.PublicSwarm {
				rules = append(rules,
					fmt.Sprintf("PeerSecurityGroup <- %s tcp/%d-%d", cidr, node.SwarmPort, node.SwarmPort),
					fmt.Sprintf("PeerSecurityGroup <- %s udp/%d-%d", cidr, node.SwarmPort, node.SwarmPort))
			}
			sort.Strings(rules)
			return rules
		}
		assert.Equal(t, want(s.config.SecondRegionVpcCidr), peerRules(s.stackTemplate, s.config.SecondRegionVpcCidr), "publicSwarm=%v", s.config.PublicSwarm)
		assert.Equal(t, want(s.config.VpcCidr), peerRules(network, s.config.VpcCidr), "publicSwarm=%v", s.config.PublicSwarm)

		// What was designed for one region is still all A has, besides the
		// second VPC's rules; nothing new is open to the Internet anywhere.
		a := slices.DeleteFunc(ingressRules(s), func(rule string) bool { return strings.Contains(rule, s.config.SecondRegionVpcCidr) })
		designed := slices.DeleteFunc(designedIngress(s.config), func(rule string) bool {
			// The nodes in nested stacks have their rules there.
			m := regexp.MustCompile(`^Node(\d+)FileSystem`).FindStringSubmatch(rule)
			if m == nil {
				return false
			}
			i, err := strconv.Atoi(m[1])
			require.NoError(t, err)
			return !stackspec.InClusterStack(i)
		})
		assert.Equal(t, designed, a)
		for _, st := range []*stackTemplate{s.stackTemplate, network, cluster} {
			for _, rule := range ingressRulesOf(st) {
				if strings.Contains(rule, "0.0.0.0/0") || strings.Contains(rule, "::/0") {
					assert.True(t, s.config.PublicSwarm, "%s: %s", st.artifactID, rule)
					assert.Regexp(t, `^PeerSecurityGroup <- 0\.0\.0\.0/0 (tcp|udp)/4001-4001$`, rule)
				}
			}
		}
		// S2: CloudFront's VPC origins, to S1's load balancer's listeners,
		// and each node's file system from its task.
		var s2 []string
		for _, rule := range ingressRulesOf(cluster) {
			if !regexp.MustCompile(`^Node(\d+)FileSystemSecurityGroup <- Node(\d+)TaskSecurityGroup tcp/2049-2049$`).MatchString(rule) {
				s2 = append(s2, rule)
			}
		}
		assert.Len(t, s2, 1, "%v", s2) // one rule over the listeners' ports
		for id, ingress := range cluster.ofType("AWS::EC2::SecurityGroupIngress") {
			if strings.HasPrefix(id, "LoadBalancer") {
				assert.True(t, importedFrom(ingress.Properties["GroupId"], network.stackName), "%s: S1's load balancer group", id)
				assert.True(t, strings.HasPrefix(ref(ingress.Properties["SourceSecurityGroupId"]), "LoadBalancerVpcOriginSecurityGroup"), id)
			}
		}
	}
}

func TestSecretsAreReplicatedToTheSecondRegion(t *testing.T) {
	for _, s := range twoRegionApps() {
		_, cluster := secondRegion(t, s)
		replicas := func(prefix string) []any {
			_, secret := s.withPrefix(t, "AWS::SecretsManager::Secret", prefix)
			var regions []any
			for _, r := range list(secret.Properties["ReplicaRegions"]) {
				regions = append(regions, path(r, "Region"))
			}
			return regions
		}
		assert.Equal(t, []any{s.config.SecondRegion}, replicas("SecretsIdentitySeed"))
		assert.Equal(t, []any{edgespec.Region, s.config.SecondRegion}, replicas("SecretsRestApiCredentials"))
		// S2's peers read the replicas in their region: the primary's
		// name and suffix, from the cluster stack.
		for id, task := range cluster.nodeTasks(t, min(s.config.SecondRegionNodeCount, stackspec.ClusterStackNodes)) {
			secrets := 0
			for _, c := range list(task.Properties["ContainerDefinitions"]) {
				for _, secret := range list(path(c, "Secrets")) {
					secrets++
					valueFrom, err := json.Marshal(path(secret, "ValueFrom"))
					require.NoError(t, err)
					assert.Contains(t, string(valueFrom), `:secretsmanager:`+s.config.SecondRegion+`:`, id)
					assert.Contains(t, string(valueFrom), `"ExportsReader`, id)
				}
			}
			assert.Equal(t, 5, secrets, "%s: the seed and the REST API credentials, those again for the Pinning Service API layer", id)
		}
	}
}

func TestGatewayFailsOverToTheSecondRegion(t *testing.T) {
	for _, s := range twoRegionApps() {
		network, _ := secondRegion(t, s)
		origins := map[string]resource{}
		for id, o := range s.ofType("AWS::CloudFront::VpcOrigin") {
			origins[id] = o
		}
		_, gateway := s.withPrefix(t, "AWS::CloudFront::Distribution", "EdgeGateway")
		dc := gateway.Properties["DistributionConfig"]
		groups := list(path(dc, "OriginGroups", "Items"))
		require.Len(t, groups, 1)
		group := groups[0]
		assert.Equal(t, []any{500.0, 502.0, 503.0, 504.0}, list(path(group, "FailoverCriteria", "StatusCodes", "Items")))
		assert.Equal(t, edge.FailoverStatusCodes, func() []float64 {
			var out []float64
			for _, c := range list(path(group, "FailoverCriteria", "StatusCodes", "Items")) {
				out = append(out, c.(float64))
			}
			return out
		}())
		members := list(path(group, "Members", "Items"))
		require.Len(t, members, 2)
		byID := map[any]any{}
		for _, o := range list(path(dc, "Origins")) {
			byID[path(o, "Id")] = o
		}
		// Primary: A's load balancer; failover: S1's, each through a VPC
		// origin of its own.
		alb := func(member any) any {
			o := byID[path(member, "OriginId")]
			require.NotNil(t, o)
			vpcOrigin := origins[ref(path(o, "VpcOriginConfig", "VpcOriginId"))]
			require.Equal(t, "AWS::CloudFront::VpcOrigin", vpcOrigin.Type)
			return path(vpcOrigin.Properties, "VpcOriginEndpointConfig", "Arn")
		}
		albID, _ := s.withPrefix(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerAlb")
		assert.Equal(t, albID, ref(alb(members[0])))
		assert.True(t, crossRegion(alb(members[1])), "the second region's load balancer")
		assert.Len(t, network.ofType("AWS::ElasticLoadBalancingV2::LoadBalancer"), 1)
		// Every gateway behavior goes to the group, with the methods
		// CloudFront fails over.
		behaviors := append([]any{path(dc, "DefaultCacheBehavior")}, list(path(dc, "CacheBehaviors"))...)
		require.Len(t, behaviors, 3)
		for _, b := range behaviors {
			assert.Equal(t, path(group, "Id"), path(b, "TargetOriginId"))
			assert.ElementsMatch(t, []any{"GET", "HEAD", "OPTIONS"}, path(b, "AllowedMethods"))
		}
		// Writes and websites stay with the first region.
		for _, prefix := range []string{"EdgeApi", "EdgeWebsites"} {
			for id, d := range s.ofType("AWS::CloudFront::Distribution") {
				if !strings.HasPrefix(id, prefix) {
					continue
				}
				c := d.Properties["DistributionConfig"]
				assert.Nil(t, path(c, "OriginGroups"), id)
				require.NotEmpty(t, list(path(c, "Origins")), id)
				for _, o := range list(path(c, "Origins")) {
					assert.Equal(t, albID, ref(path(origins[ref(path(o, "VpcOriginConfig", "VpcOriginId"))].Properties, "VpcOriginEndpointConfig", "Arn")), id)
				}
			}
		}
	}
	// The default app has neither.
	for _, d := range defaults.ofType("AWS::CloudFront::Distribution") {
		assert.Nil(t, path(d.Properties, "DistributionConfig", "OriginGroups"))
	}
}

// TestSecondRegionNodesTakeTheirOwnIndices: the second region's peers are
// node100, node101, ... (nodespec.SecondRegionFirstIndex), whatever the
// first region's size, so scaling it renumbers none of them.
func TestSecondRegionNodesTakeTheirOwnIndices(t *testing.T) {
	for _, s := range twoRegionApps() {
		networkStack, cluster := secondRegion(t, s)
		c := s.config
		require.Len(t, s.stack.SecondRegion.Nodes, c.SecondRegionNodeCount)
		for k, n := range s.stack.SecondRegion.Nodes {
			i := nodespec.SecondRegionFirstIndex + k
			peer := nodespec.PeerName(i)
			assert.Equal(t, peer, n.Name)
			assert.Equal(t, nodespec.PeerDNSName(i, nodespec.RegionNamespace(c.CloudMapNamespace, c.SecondRegion)), n.DNSName)
			st := cluster
			inStack := stackspec.InClusterStack(k)
			assert.Equal(t, !inStack, s.stack.SecondRegion.NodeStacks[k] != nil, peer)
			if !inStack {
				st = nestedNode(t, s, i)
			}
			_, fs := st.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
			assert.Equal(t, c.ZoneOf(i), fs.Properties["AvailabilityZoneName"], peer)
			assert.True(t, strings.HasPrefix(c.ZoneOf(i), c.SecondRegion), peer)
			_, task := st.withPrefix(t, "AWS::ECS::TaskDefinition", fmt.Sprintf("Node%dTask", i))
			env := map[string]any{}
			for _, container := range list(task.Properties["ContainerDefinitions"]) {
				if path(container, "Name") == node.ClusterContainerName {
					for _, e := range list(path(container, "Environment")) {
						env[fmt.Sprint(path(e, "Name"))] = path(e, "Value")
					}
				}
			}
			assert.Equal(t, strconv.Itoa(i), env["CLUSTER_PEER_INDEX"], peer)
			var indices []string
			for _, index := range c.PeerIndices() {
				indices = append(indices, strconv.Itoa(index))
			}
			assert.Equal(t, strings.Join(indices, ","), env[nodespec.PeerIndicesVariable], peer)
			assert.Equal(t, fmt.Sprintf("%s:%s,%s:%s", nodespec.RegionTag, c.SecondRegion, nodespec.ZoneTag, c.ZoneOf(i)), env["CLUSTER_TAGS_TAGS"], peer)
			addresses := strings.Split(fmt.Sprint(env["CLUSTER_PEER_MULTIADDRS"]), ",")
			assert.Len(t, addresses, c.TotalNodes(), "%s lists every peer of both regions", peer)
			_, discovery := st.withPrefix(t, "AWS::ServiceDiscovery::Service", fmt.Sprintf("Node%dService", i))
			assert.Equal(t, peer, discovery.Properties["Name"])
		}
		// In S1's namespace, named for the region.
		_, namespace := networkStack.withPrefix(t, "AWS::ServiceDiscovery::PrivateDnsNamespace", "Peers")
		assert.Equal(t, nodespec.RegionNamespace(c.CloudMapNamespace, c.SecondRegion), namespace.Properties["Name"])
		// The first region keeps its nodes and its peers in its output.
		s.nodeTasks(t, min(c.NodeCount, stackspec.ClusterStackNodes))
		var firstPeers []string
		for i := 0; i < c.NodeCount; i++ {
			firstPeers = append(firstPeers, nodespec.PeerDNSName(i, c.CloudMapNamespace))
		}
		assert.Equal(t, strings.Join(firstPeers, ","), path(s.outputs, outputs.PeerDNSNames, "Value"))
		// Rolling order within the region: the second region's first node
		// waits for the DNS associations, each next one for the one before.
		for k := 1; k < min(c.SecondRegionNodeCount, stackspec.ClusterStackNodes); k++ {
			id, service := cluster.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", nodespec.SecondRegionFirstIndex+k))
			prev, _ := cluster.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", nodespec.SecondRegionFirstIndex+k-1))
			assert.Contains(t, service.DependsOn, prev, id)
		}
		_, first := cluster.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", nodespec.SecondRegionFirstIndex))
		associations := cluster.exactly(t, 2, network.ZoneAssociationResourceType)
		for id := range associations {
			assert.Contains(t, first.DependsOn, id)
		}
	}
}

func TestSecondRegionHasItsOwnBackupPlanAndMonitoring(t *testing.T) {
	for _, s := range twoRegionApps() {
		_, cluster := secondRegion(t, s)
		c := s.config
		_, selection := cluster.withPrefix(t, "AWS::Backup::BackupSelection", "BackupPlan")
		resources := list(path(selection.Properties, "BackupSelection", "Resources"))
		require.Len(t, resources, c.SecondRegionNodeCount)
		var inStack []string
		for _, i := range c.PeerIndices()[c.NodeCount:][:min(c.SecondRegionNodeCount, stackspec.ClusterStackNodes)] {
			id, _ := cluster.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
			inStack = append(inStack, id)
		}
		// Those of nested stacks come through their stacks' outputs.
		for _, i := range c.PeerIndices()[c.NodeCount+min(c.SecondRegionNodeCount, stackspec.ClusterStackNodes):] {
			id, _ := cluster.withPrefix(t, "AWS::CloudFormation::Stack", fmt.Sprintf("Node%dStack", i))
			inStack = append(inStack, id)
		}
		sort.Strings(inStack)
		assert.Equal(t, inStack, selectedFileSystems(t, selection))
		// A's plan covers A's file systems only.
		_, firstSelection := s.withPrefix(t, "AWS::Backup::BackupSelection", "BackupPlan")
		assert.Len(t, list(path(firstSelection.Properties, "BackupSelection", "Resources")), c.NodeCount)

		_, vault := cluster.withPrefix(t, "AWS::Backup::BackupVault", "BackupVault")
		wantPolicy := "RetainExceptOnCreate"
		if c.DataRemovalPolicy == config.RemovalDestroy {
			wantPolicy = "Delete"
			cluster.exactly(t, 1, "Custom::BackupVaultEmptier")
			// Everything the second region's stacks log is deleted with them.
			network, _ := secondRegion(t, s)
			for _, st := range []*stackTemplate{cluster, network} {
				for id, group := range st.ofType("AWS::Logs::LogGroup") {
					assert.Equal(t, "Delete", group.DeletionPolicy, "%s %s", st.artifactID, id)
				}
			}
		}
		assert.Equal(t, wantPolicy, vault.DeletionPolicy)
		for id, fs := range cluster.ofType("AWS::EFS::FileSystem") {
			assert.Equal(t, wantPolicy, fs.DeletionPolicy, id)
		}

		// Its own dashboard (dashboards are global), alarms of its peers,
		// none of the edge (they stay in us-east-1).
		_, dashboard := cluster.withPrefix(t, "AWS::CloudWatch::Dashboard", "MonitoringDashboard")
		assert.Equal(t, cluster.stackName, dashboard.Properties["DashboardName"])
		_, firstDashboard := s.withPrefix(t, "AWS::CloudWatch::Dashboard", "MonitoringDashboard")
		assert.NotEqual(t, firstDashboard.Properties["DashboardName"], dashboard.Properties["DashboardName"])
		peer := nodespec.PeerName(nodespec.SecondRegionFirstIndex)
		_, alarm := cluster.withPrefix(t, "AWS::CloudWatch::Alarm", fmt.Sprintf("MonitoringNode%dTasksBelowDesired", nodespec.SecondRegionFirstIndex))
		assert.Contains(t, alarm.Properties["AlarmName"], "-"+peer+"-")
		assert.NotContains(t, cluster.text, "AWS/CloudFront")
	}
}

func TestHostedZonesAreAssociatedAcrossRegions(t *testing.T) {
	for _, s := range twoRegionApps() {
		networkStack, cluster := secondRegion(t, s)
		type call struct {
			Action     string         `json:"action"`
			Parameters map[string]any `json:"parameters"`
		}
		// AwsCustomResource renders its calls as JSON strings joined with
		// the values of their parameters.
		decode := func(v any) (call, []any) {
			parts := list(path(v, "Fn::Join", 1))
			var text strings.Builder
			var values []any
			for _, p := range parts {
				if str, ok := p.(string); ok {
					text.WriteString(str)
				} else {
					text.WriteString("VALUE" + strconv.Itoa(len(values)))
					values = append(values, p)
				}
			}
			var c call
			require.NoError(t, json.Unmarshal([]byte(text.String()), &c), text.String())
			return c, values
		}
		regions := map[any]string{}
		for id, a := range cluster.exactly(t, 2, network.ZoneAssociationResourceType) {
			create, values := decode(a.Properties["Create"])
			assert.Equal(t, "AssociateVPCWithHostedZone", create.Action)
			update, _ := decode(a.Properties["Update"])
			assert.Equal(t, "AssociateVPCWithHostedZone", update.Action, "%s: a replaced zone or VPC is associated too", id)
			remove, _ := decode(a.Properties["Delete"])
			assert.Equal(t, "DisassociateVPCFromHostedZone", remove.Action, "%s: undone on delete", id)
			// The zone, the VPC, then both again in the physical ID.
			require.Len(t, values, 3, id)
			zone, vpc := values[0], values[1]
			region := path(create.Parameters, "VPC", "VPCRegion")
			regions[region] = id
			switch region {
			case s.config.SecondRegion:
				// A's namespace in the second VPC.
				assert.True(t, crossRegion(zone), "%s: %v", id, zone)
				assert.True(t, importedFrom(vpc, networkStack.stackName), "%s: %v", id, vpc)
			case s.config.Region:
				// S1's namespace in A's VPC.
				assert.True(t, importedFrom(zone, networkStack.stackName), "%s: %v", id, zone)
				assert.True(t, crossRegion(vpc), "%s: %v", id, vpc)
			}
		}
		assert.Len(t, regions, 2, "one association each way")
		// The role may change the associations of the namespaces' zones
		// only.
		for id, policy := range cluster.ofType("AWS::IAM::Policy") {
			for _, statement := range list(path(policy.Properties, "PolicyDocument", "Statement")) {
				actions := fmt.Sprint(path(statement, "Action"))
				if strings.Contains(actions, "route53:") {
					assert.NotEqual(t, "*", path(statement, "Resource"), id)
					assert.Contains(t, fmt.Sprint(path(statement, "Resource")), "hostedzone/", id)
				}
			}
		}
	}
}

func TestSecondRegionOutputsMatchTheFirstRegions(t *testing.T) {
	for _, s := range twoRegionApps() {
		_, cluster := secondRegion(t, s)
		c := s.config
		first := slices.DeleteFunc(sortedKeys(s.outputs), func(k string) bool {
			switch k {
			case outputs.GatewayURL, outputs.RestAPIURL, outputs.GatewayDistributionDomainName, outputs.WebsitesDistributionDomainName,
				outputs.SecondRegion, outputs.SecondRegionStackName, outputs.SecondRegionRestAPIURL:
				// The edge's, and where the second region is.
				return true
			}
			// CDK's exports to the region check's stack.
			return strings.HasPrefix(k, "ExportsOutput")
		})
		assert.Equal(t, first, sortedKeys(s.stack.SecondRegion.Outputs))
		// The load balancer's name is its stack's output (an output may
		// not pass on an import), the rest the second cluster stack's.
		networkStack, _ := secondRegion(t, s)
		albID, _ := networkStack.withPrefix(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerAlb")
		assert.Equal(t, albID, ref(path(networkStack.outputs, outputs.LoadBalancerDNSName, "Value")))
		assert.Equal(t, slices.DeleteFunc(first, func(k string) bool { return k == outputs.LoadBalancerDNSName }), sortedKeys(cluster.outputs))
		var peers []string
		for _, i := range c.PeerIndices()[c.NodeCount:] {
			peers = append(peers, nodespec.PeerDNSName(i, nodespec.RegionNamespace(c.CloudMapNamespace, c.SecondRegion)))
		}
		assert.Equal(t, strings.Join(peers, ","), path(cluster.outputs, outputs.PeerDNSNames, "Value"))
		assert.Len(t, list(path(cluster.outputs, outputs.NodeServiceNames, "Value", "Fn::Join", 1)), 2*c.SecondRegionNodeCount-1)
	}
}

func TestOneRegionHasNoSecondRegion(t *testing.T) {
	for _, s := range []*synthesized{defaults, allFeatures} {
		assert.Nil(t, s.stack.SecondRegion)
		assert.Empty(t, s.ofType("AWS::EC2::VPCPeeringConnection"))
		assert.NotContains(t, s.text, "ExportsReader")
		for id, secret := range s.ofType("AWS::SecretsManager::Secret") {
			assert.NotContains(t, fmt.Sprint(secret.Properties["ReplicaRegions"]), "us-east-2", id)
		}
	}
}

func TestNoCdkNagFindingsInTwoRegions(t *testing.T) {
	for _, s := range twoRegionApps() {
		var regions []string
		for id, st := range s.stacks {
			regions = append(regions, st.region)
			assert.Empty(t, st.nagFindings(), id)
			assert.Empty(t, st.errors(), id)
		}
		sort.Strings(regions)
		// The cluster stack and its region check, the edge's two, the
		// second region's two.
		want := []string{s.config.Region, s.config.Region, edgespec.Region, edgespec.Region, s.config.SecondRegion, s.config.SecondRegion}
		if s.config.BackupCopyRegion != "" {
			want = append(want, s.config.BackupCopyRegion)
		}
		sort.Strings(want)
		assert.Equal(t, want, regions)
	}
}

func TestSecondRegionPropsAreValidated(t *testing.T) {
	stack := awscdk.NewStack(testApp(t, nil), jsii.String("SecondRegionProps"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("eu-west-1")}})
	n, err := network.New(stack, "Network", &network.Props{AvailabilityZones: []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}})
	require.NoError(t, err)
	isolated := n.PrivateSubnets()
	before := childIDs(stack)

	_, err = n.PeerWith(stack, "Peering", nil)
	assert.EqualError(t, err, "network.PeeringProps: required (nil)")
	_, err = n.PeerWith(stack, "Peering", &network.PeeringProps{PeerRegion: "mars", PeerCidr: "10.43.0.0/24", Subnets: []*awsec2.SubnetSelection{nil}})
	require.Error(t, err)
	for _, want := range []string{
		"network.PeeringProps.PeerVpcID: required",
		"network.PeeringProps.PeerRegion: ",
		`network.PeeringProps.PeerCidr: "10.43.0.0/24"`,
		"network.PeeringProps.Subnets[0]: required",
	} {
		assert.Contains(t, err.Error(), want)
	}
	err = n.RouteThroughPeering(stack, "Routes", &network.PeerRoutesProps{PeerCidr: "10.42.0.0/16"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "network.PeerRoutesProps.PeeringConnectionID: required")
	assert.Contains(t, err.Error(), "network.PeerRoutesProps.Subnets: required")
	_, err = network.NewZoneAssociation(stack, "Association", &network.ZoneAssociationProps{VpcRegion: "EU"})
	require.Error(t, err)
	for _, want := range []string{"HostedZoneID: required", "VpcID: required", "VpcRegion: "} {
		assert.Contains(t, err.Error(), "network.ZoneAssociationProps."+want)
	}
	assert.Equal(t, before, childIDs(stack), "rejected props create nothing")

	// Valid props, for contrast: what the stacks build.
	_, err = n.PeerWith(stack, "Peering", &network.PeeringProps{PeerVpcID: jsii.String("vpc-1"), PeerRegion: "us-east-2", PeerCidr: "10.43.0.0/16", Subnets: []*awsec2.SubnetSelection{isolated}})
	require.NoError(t, err)

	err = (&clustersecrets.Props{RestAPICredentialsName: "creds", NodeRegions: []string{"us-east-2", "mars"}}).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "clustersecrets.Props.NodeRegions: ")
	err = (&monitoring.Props{DashboardName: "a b"}).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `monitoring.Props.DashboardName: "a b" is not a dashboard name`)
}

// TestStandbyAPIWritesThroughTheSecondRegion: CloudFront fails over no
// write, so a REST API distribution of its own reaches the second region's
// load balancer, behind the same authentication, never cached, all methods;
// the cluster stack names it, the second region admits its VPC origin, and
// the default app has none.
func TestStandbyAPIWritesThroughTheSecondRegion(t *testing.T) {
	for _, s := range twoRegionApps() {
		_, cluster := secondRegion(t, s)
		_, api := s.withPrefix(t, "AWS::CloudFront::Distribution", "EdgeApi")
		_, standby := s.withPrefix(t, "AWS::CloudFront::Distribution", "EdgeStandbyApi")
		dc := standby.Properties["DistributionConfig"]
		// Every origin (the REST API's, the Pinning Service API's) is the
		// second region's load balancer; the default behaviour its REST API.
		originPorts := map[any]float64{}
		for _, o := range list(path(dc, "Origins")) {
			vpcOrigin := s.ofType("AWS::CloudFront::VpcOrigin")[ref(path(o, "VpcOriginConfig", "VpcOriginId"))]
			assert.True(t, crossRegion(path(vpcOrigin.Properties, "VpcOriginEndpointConfig", "Arn")), "the second region's load balancer")
			originPorts[path(o, "Id")] = path(vpcOrigin.Properties, "VpcOriginEndpointConfig", "HTTPPort").(float64)
		}
		assert.Equal(t, float64(nodespec.RestAPIPort), originPorts[path(dc, "DefaultCacheBehavior", "TargetOriginId")])
		assert.Equal(t, len(list(path(api.Properties, "DistributionConfig", "CacheBehaviors"))), len(list(path(dc, "CacheBehaviors"))), "the API's behaviours, the Pinning Service API's included")
		assert.Nil(t, path(dc, "Aliases"), "the API's domain stays with the first region's distribution")
		// The same default behaviour as the API's: methods, cache, auth.
		want, got := path(api.Properties, "DistributionConfig", "DefaultCacheBehavior"), path(dc, "DefaultCacheBehavior")
		for _, key := range []string{"AllowedMethods", "CachePolicyId", "OriginRequestPolicyId", "ViewerProtocolPolicy", "LambdaFunctionAssociations", "Compress"} {
			assert.Equal(t, path(want, key), path(got, key), key)
		}
		assert.Len(t, list(path(got, "AllowedMethods")), 7)
		assert.Contains(t, s.outputs, outputs.SecondRegionRestAPIURL)
		// The second region's stack admits the VPC origins of its VPC on
		// the REST API's and the Pinning Service API's ports too (one rule
		// over the listeners' ports).
		for _, port := range []int{nodespec.RestAPIPort, nodespec.PinningServicePort} {
			admitted := false
			for _, rule := range cluster.ofType("AWS::EC2::SecurityGroupIngress") {
				from, okFrom := rule.Properties["FromPort"].(float64)
				to, okTo := rule.Properties["ToPort"].(float64)
				admitted = admitted || okFrom && okTo && from <= float64(port) && float64(port) <= to
			}
			assert.True(t, admitted, "port %d", port)
		}
	}
	for id := range defaults.ofType("AWS::CloudFront::Distribution") {
		assert.False(t, strings.HasPrefix(id, "EdgeStandbyApi"), id)
	}
	assert.NotContains(t, defaults.outputs, outputs.SecondRegionRestAPIURL)
}
