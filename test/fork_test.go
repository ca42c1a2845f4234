package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/test/fork"
)

// TestForkableConstructs (issue 7, item 7): package fork builds a cluster
// from the constructs' exported API alone, in a stack, VPC, ECS cluster and
// namespace of its own; it synthesizes, and the peers' addresses, the
// cluster swarm rule and the secret wiring come out as in the app.
func TestForkableConstructs(t *testing.T) {
	const module = "github.com/ipfs-cluster-aws/ipfs-cluster-aws/"
	goList := exec.Command("go", "list", "-deps", "./test/fork")
	goList.Dir = repoRoot
	deps, err := goList.Output()
	require.NoError(t, err)
	require.Contains(t, string(deps), module+"constructs/node\n", "go list works")
	for _, forbidden := range []string{"config", "stacks", "app"} {
		assert.NotContains(t, strings.Split(string(deps), "\n"), module+forbidden, "package fork must not need %s", forbidden)
	}

	// No cdk.json context either: a fork has its own feature flags.
	cdkApp, outDir, err := newApp(nil)
	require.NoError(t, err)
	var c *fork.Cluster
	require.NoError(t, catch(func() error {
		var err error
		if c, err = fork.Build(cdkApp, "Platform"); err != nil {
			return err
		}
		cdkApp.Synth(nil)
		return nil
	}))
	assembly, err := loadAssembly(outDir)
	require.NoError(t, err)
	require.Len(t, assembly, 2, "the fork's stack and its Lambda@Edge stack")
	s := assembly[*c.Stack.ArtifactId()]
	require.NotNil(t, s)
	assert.Empty(t, s.errors())

	// The peers' names and addresses: Cloud Map names in the fork's
	// namespace, and each peer's environment lists every peer there.
	var namespaceID string
	for id := range s.exactly(t, 1, "AWS::ServiceDiscovery::PrivateDnsNamespace") {
		namespaceID = id
	}
	registries := s.exactly(t, fork.Peers, "AWS::ServiceDiscovery::Service")
	s.exactly(t, fork.Peers, "AWS::ECS::Service")
	peersGroup := firstOfType(t, s, "AWS::EC2::SecurityGroup", "Peers")
	var previous string
	for i, n := range c.Nodes {
		id := fmt.Sprintf("Peer%d", i)
		assert.Equal(t, nodespec.PeerDNSName(i, fork.Namespace), n.DNSName)
		serviceID, service := s.withPrefix(t, "AWS::ECS::Service", id+"Service")
		registry := registries[ref(path(service.Properties, "ServiceRegistries", 0, "RegistryArn"))]
		assert.Equal(t, nodespec.PeerName(i), path(registry.Properties, "Name"), id)
		assert.Equal(t, namespaceID, ref(path(registry.Properties, "NamespaceId")), id)

		_, defs := taskDefinition(t, s, id)
		kubo, cluster := fork.PeerSettings(i).Environment()
		assert.Equal(t, kubo, envOf(t, defs[node.KuboContainerName]), id)
		assert.Equal(t, cluster, envOf(t, defs[node.ClusterContainerName]), id)
		assert.Equal(t, strings.Join(nodespec.Settings{Namespace: fork.Namespace, PeerCount: fork.Peers}.PeerMultiaddrs(), ","), envOf(t, defs[node.ClusterContainerName])["CLUSTER_PEER_MULTIADDRS"])
		assert.Equal(t, fork.ClusterImage, defs[node.ClusterContainerName]["Image"], id)

		// The cluster swarm: every peer is in the shared group.
		var groups []string
		for _, g := range list(path(service.Properties, "NetworkConfiguration", "AwsvpcConfiguration", "SecurityGroups")) {
			groups = append(groups, ref(g))
		}
		assert.Contains(t, groups, peersGroup, "%s is in the peers' group", id)
		if previous != "" {
			assert.Contains(t, service.DependsOn, previous, "%s rolls after the previous peer", id)
		}
		previous = serviceID

		// The secret wiring: ARN references to the fork's own secrets.
		seed, _ := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsIdentitySeed")
		credentials, _ := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsRestApiCredentials")
		secrets := map[string]string{}
		for _, secret := range list(defs[node.ClusterContainerName]["Secrets"]) {
			raw, err := json.Marshal(path(secret, "ValueFrom"))
			require.NoError(t, err)
			secrets[fmt.Sprint(path(secret, "Name"))] = string(raw)
		}
		assert.Equal(t, map[string]string{
			nodespec.IdentitySeedVariable:    `{"Ref":"` + seed + `"}`,
			nodespec.RestAPIUsernameVariable: `{"Fn::Join":["",[{"Ref":"` + credentials + `"},":username::"]]}`,
			nodespec.RestAPIPasswordVariable: `{"Fn::Join":["",[{"Ref":"` + credentials + `"},":password::"]]}`,
		}, secrets, id)
	}
	// Exactly the cluster swarm between peers, nothing from the Internet.
	var peerRules []string
	for _, ingress := range s.ofType("AWS::EC2::SecurityGroupIngress") {
		if ref(ingress.Properties["GroupId"]) == peersGroup {
			peerRules = append(peerRules, fmt.Sprintf("%s %v/%v", ref(ingress.Properties["SourceSecurityGroupId"]), ingress.Properties["IpProtocol"], ingress.Properties["FromPort"]))
		}
	}
	assert.ElementsMatch(t, []string{
		fmt.Sprintf("%s tcp/%d", peersGroup, nodespec.ClusterSwarmPort),
		fmt.Sprintf("%s tcp/%d", firstOfType(t, s, "AWS::EC2::SecurityGroup", "AlbSecurityGroup"), nodespec.GatewayPort),
		fmt.Sprintf("%s tcp/%d", firstOfType(t, s, "AWS::EC2::SecurityGroup", "AlbSecurityGroup"), nodespec.RestAPIPort),
		fmt.Sprintf("%s tcp/%d", firstOfType(t, s, "AWS::EC2::SecurityGroup", "AlbSecurityGroup"), nodespec.PinningServicePort),
	}, peerRules)

	// The credentials: named, replicated to the edge's region, and read
	// there by the edge function under the same name.
	_, credentials := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsRestApiCredentials")
	assert.Equal(t, fork.CredentialsName, credentials.Properties["Name"])
	assert.Equal(t, []any{map[string]any{"Region": edgespec.Region}}, credentials.Properties["ReplicaRegions"])
	var edgeStack *stackTemplate
	for id, st := range assembly {
		if id != s.artifactID {
			edgeStack = st
		}
	}
	require.Equal(t, edgespec.Region, edgeStack.region)
	policy, err := json.Marshal(edgeStack.exactly(t, 1, "AWS::IAM::Policy"))
	require.NoError(t, err)
	assert.Contains(t, string(policy), ":secretsmanager:"+edgespec.Region+":")
	assert.Contains(t, string(policy), ":secret:"+fork.CredentialsName+"-??????")
	fn := edgeLambdaFunction(t, edgeStack)
	bundle, err := os.ReadFile(filepath.Join(outDir, "asset."+strings.TrimSuffix(fmt.Sprint(path(fn, "Code", "S3Key")), ".zip"), "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(bundle), `"secretName": "`+fork.CredentialsName+`"`)

	// What another stack needs from the edge: the distributions' names.
	assert.NotNil(t, c.Edge.GatewayDomainName())
	assert.NotNil(t, c.Edge.APIDomainName())
}

// firstOfType returns the logical ID of the one resource of a type whose
// ID starts with prefix.
func firstOfType(t *testing.T, s *stackTemplate, resourceType, prefix string) string {
	t.Helper()
	id, _ := s.withPrefix(t, resourceType, prefix)
	return id
}
