package test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// Cross-cutting checks over every stack of every app fixture.

// groupName names a security group by its role, from its logical ID.
func groupName(logicalID string) string {
	for _, role := range []*regexp.Regexp{
		regexp.MustCompile(`^(PeerSecurityGroup)`),
		regexp.MustCompile(`^(LoadBalancerSecurityGroup)`),
		// The lookup of CloudFront's VPC origin group (loadbalancer_test.go).
		regexp.MustCompile(`^LoadBalancer(VpcOriginSecurityGroup)`),
		regexp.MustCompile(`^(NetworkEndpointSecurityGroup)`),
		regexp.MustCompile(`^(Node\d+TaskSecurityGroup)`),
		regexp.MustCompile(`^(Node\d+FileSystemSecurityGroup)`),
	} {
		if m := role.FindStringSubmatch(logicalID); m != nil {
			return m[1]
		}
	}
	return logicalID
}

// ingressRules lists every ingress rule of the cluster stack as
// "<group> <- <source> <protocol>/<from>-<to>", inline or standalone.
func ingressRules(s *synthesized) []string { return ingressRulesOf(s.stackTemplate) }

// ingressRulesOf is ingressRules of any stack.
func ingressRulesOf(s *stackTemplate) []string {
	var rules []string
	describe := func(group string, rule map[string]any) {
		source := ""
		switch {
		case rule["CidrIp"] != nil:
			source = fmt.Sprint(rule["CidrIp"])
		case rule["CidrIpv6"] != nil:
			source = fmt.Sprint(rule["CidrIpv6"])
		case rule["SourceSecurityGroupId"] != nil:
			source = groupName(ref(rule["SourceSecurityGroupId"]))
		case rule["SourcePrefixListId"] != nil:
			source = "prefix-list"
		}
		rules = append(rules, fmt.Sprintf("%s <- %s %v/%v-%v", groupName(group), source, rule["IpProtocol"], rule["FromPort"], rule["ToPort"]))
	}
	for id, sg := range s.ofType("AWS::EC2::SecurityGroup") {
		for _, rule := range list(sg.Properties["SecurityGroupIngress"]) {
			describe(id, rule.(map[string]any))
		}
	}
	for _, ingress := range s.ofType("AWS::EC2::SecurityGroupIngress") {
		describe(ref(ingress.Properties["GroupId"]), ingress.Properties)
	}
	sort.Strings(rules)
	return rules
}

// designedIngress is README's security group table for a configuration.
func designedIngress(c config.Config) []string {
	tcp := func(group, source string, port int) string {
		return fmt.Sprintf("%s <- %s tcp/%d-%d", group, source, port, port)
	}
	want := []string{
		// One rule over the listeners' ports (gateway, REST API, PSA).
		fmt.Sprintf("LoadBalancerSecurityGroup <- VpcOriginSecurityGroup tcp/%d-%d", nodespec.GatewayPort, nodespec.PinningServicePort),
		tcp("PeerSecurityGroup", "LoadBalancerSecurityGroup", nodespec.GatewayPort),
		tcp("PeerSecurityGroup", "LoadBalancerSecurityGroup", nodespec.RestAPIPort),
		tcp("PeerSecurityGroup", "LoadBalancerSecurityGroup", nodespec.PinningServicePort),
		tcp("PeerSecurityGroup", "PeerSecurityGroup", nodespec.ClusterSwarmPort),
	}
	if c.PublicSwarm {
		want = append(want,
			tcp("PeerSecurityGroup", "0.0.0.0/0", nodespec.SwarmPort),
			fmt.Sprintf("PeerSecurityGroup <- 0.0.0.0/0 udp/%d-%d", nodespec.SwarmPort, nodespec.SwarmPort))
	} else {
		want = append(want, tcp("NetworkEndpointSecurityGroup", c.VpcCidr, 443))
	}
	for i := 0; i < c.NodeCount; i++ {
		want = append(want,
			fmt.Sprintf("Node%dFileSystemSecurityGroup <- Node%dTaskSecurityGroup tcp/2049-2049", i, i),
		)
	}
	sort.Strings(want)
	return want
}

func TestSecurityGroupRulesAreExactlyTheDesign(t *testing.T) {
	for _, s := range allApps() {
		assert.Equal(t, designedIngress(s.config), ingressRules(s), "publicSwarm=%v, %d nodes", s.config.PublicSwarm, s.config.NodeCount)
	}
	// The literal table, so that a change to the design shows here too.
	assert.Subset(t, ingressRules(defaults), []string{
		"PeerSecurityGroup <- 0.0.0.0/0 tcp/4001-4001",
		"PeerSecurityGroup <- 0.0.0.0/0 udp/4001-4001",
		"PeerSecurityGroup <- PeerSecurityGroup tcp/9096-9096",
		"LoadBalancerSecurityGroup <- VpcOriginSecurityGroup tcp/8080-9098",
	})
}

func TestOnlyTheSwarmIsOpenToTheInternet(t *testing.T) {
	for _, s := range allApps() {
		for _, rule := range ingressRules(s) {
			if strings.Contains(rule, "0.0.0.0/0") || strings.Contains(rule, "::/0") {
				assert.True(t, s.config.PublicSwarm, "private swarm has an Internet rule: %s", rule)
				assert.Regexp(t, `^PeerSecurityGroup <- 0\.0\.0\.0/0 (tcp|udp)/4001-4001$`, rule)
			}
			assert.NotContains(t, rule, fmt.Sprint(nodespec.KuboRPCPort), "kubo RPC must never be in a security group")
		}
	}
	// The load balancer may only talk to the nodes' service ports, through
	// the shared peer group (a node's own group is its mount target's
	// business only).
	var egress []string
	for _, rule := range defaults.ofType("AWS::EC2::SecurityGroupEgress") {
		if groupName(ref(rule.Properties["GroupId"])) == "LoadBalancerSecurityGroup" {
			egress = append(egress, fmt.Sprintf("%s %v-%v", groupName(ref(rule.Properties["DestinationSecurityGroupId"])), rule.Properties["FromPort"], rule.Properties["ToPort"]))
		}
	}
	assert.ElementsMatch(t, []string{"PeerSecurityGroup 8080-8080", "PeerSecurityGroup 9094-9094", "PeerSecurityGroup 9098-9098"}, egress)
}

// secretShapes are what leaked key material looks like: a libp2p Ed25519
// private key (protobuf prefix CAESQ in base64), PEM keys, 64 hex characters
// (a cluster secret), AWS access keys.
var secretShapes = map[string]*regexp.Regexp{
	"libp2p private key": regexp.MustCompile(`CAESQ[A-Za-z0-9+/]{40,}`),
	"PEM key":            regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
	"hex secret":         regexp.MustCompile(`(^|[^0-9a-fA-F])[0-9a-fA-F]{64}([^0-9a-fA-F]|$)`),
	"AWS access key":     regexp.MustCompile(`AKIA[0-9A-Z]{16}`),
}

var assetDigests = regexp.MustCompile(`(asset\.|container-assets-\$\{AWS::AccountId\}-[a-z0-9-]+:|"S3Key":")[0-9a-f]{64}(\.zip"|")`)

func TestTemplatesCarryNoSecretMaterial(t *testing.T) {
	for _, s := range allApps() {
		// Every stack of the app, the us-east-1 edge and edge monitoring
		// stacks included.
		require.Len(t, s.stacks, 3)
		for id, st := range s.stacks {
			// Asset keys and image tags are SHA-256 digests of the build
			// contexts: the only 64-hex strings allowed, and only there.
			require.Regexp(t, assetDigests, st.text, "%s refers to an asset", id)
			text := assetDigests.ReplaceAllString(st.text, "$1<digest>$2")
			for what, shape := range secretShapes {
				assert.False(t, shape.MatchString(text), "%s contains a %s", id, what)
			}
		}
		// Task definitions: secrets are ARN references in Secrets, never
		// environment values.
		for id, task := range s.nodeTasks(t, s.config.NodeCount) {
			containers := list(task.Properties["ContainerDefinitions"])
			require.Len(t, containers, 4, "%s: kubo, the cluster, the Pinning Service API layer, the metrics collector", id)
			secrets := 0
			for _, c := range containers {
				for _, env := range list(path(c, "Environment")) {
					name := fmt.Sprint(path(env, "Name"))
					assert.NotRegexp(t, `(?i)secret|password|seed|privatekey|credential`, name, "%s: %s in the environment", id, name)
				}
				for _, secret := range list(path(c, "Secrets")) {
					secrets++
					valueFrom, err := json.Marshal(path(secret, "ValueFrom"))
					require.NoError(t, err)
					assert.Contains(t, string(valueFrom), `{"Ref":"Secrets`, "%s: secret %v must reference Secrets Manager", id, path(secret, "Name"))
				}
				assert.Nil(t, path(c, "Command"), "%s: no command line (it would show in the console)", id)
			}
			assert.Equal(t, 5, secrets, "%s: the seed, the username and the password; the username and the password again for the Pinning Service API layer", id)
		}
	}
}

func TestNoCdkNagFindings(t *testing.T) {
	for _, s := range allApps() {
		// Every stack of the app: the main one and the us-east-1 stack that
		// holds the Lambda@Edge function.
		var regions []string
		for id, st := range s.stacks {
			regions = append(regions, st.region)
			assert.Empty(t, st.nagFindings(), "%s (publicSwarm=%v, dataRemovalPolicy=%s)", id, s.config.PublicSwarm, s.config.DataRemovalPolicy)
		}
		sort.Strings(regions)
		// The cluster, its Lambda@Edge stack and its edge monitoring stack.
		assert.Equal(t, []string{s.config.Region, edgespec.Region, edgespec.Region}, regions, "stacks checked by cdk-nag")
	}
}
