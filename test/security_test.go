package test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
)

// groupName names a security group by its role, from its logical ID.
func groupName(logicalID string) string {
	for _, role := range []*regexp.Regexp{
		regexp.MustCompile(`^(PeerSecurityGroup)`),
		regexp.MustCompile(`^(LoadBalancerSecurityGroup)`),
		regexp.MustCompile(`^(Node\d+TaskSecurityGroup)`),
		regexp.MustCompile(`^(Node\d+FileSystemSecurityGroup)`),
	} {
		if m := role.FindStringSubmatch(logicalID); m != nil {
			return m[1]
		}
	}
	return logicalID
}

// ingressRules lists every ingress rule of the template as
// "<group> <- <source> <protocol>/<from>-<to>", inline or standalone.
func ingressRules(s *synthesized) []string {
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

func TestSecurityGroupRulesAreExactlyTheDesign(t *testing.T) {
	want := []string{
		"LoadBalancerSecurityGroup <- 10.42.0.0/16 tcp/8080-8080",
		"LoadBalancerSecurityGroup <- 10.42.0.0/16 tcp/9094-9094",
		"PeerSecurityGroup <- 0.0.0.0/0 tcp/4001-4001",
		"PeerSecurityGroup <- 0.0.0.0/0 udp/4001-4001",
		"PeerSecurityGroup <- LoadBalancerSecurityGroup tcp/8080-8080",
		"PeerSecurityGroup <- LoadBalancerSecurityGroup tcp/9094-9094",
		"PeerSecurityGroup <- PeerSecurityGroup tcp/9096-9096",
	}
	for i := 0; i < defaults.config.NodeCount; i++ {
		want = append(want,
			fmt.Sprintf("Node%dFileSystemSecurityGroup <- Node%dTaskSecurityGroup tcp/2049-2049", i, i),
			fmt.Sprintf("Node%dTaskSecurityGroup <- LoadBalancerSecurityGroup tcp/8080-8080", i),
			fmt.Sprintf("Node%dTaskSecurityGroup <- LoadBalancerSecurityGroup tcp/9094-9094", i),
		)
	}
	sort.Strings(want)
	assert.Equal(t, want, ingressRules(defaults))
}

func TestOnlyTheSwarmIsOpenToTheInternet(t *testing.T) {
	for _, s := range []*synthesized{defaults, privateSwarm} {
		for _, rule := range ingressRules(s) {
			if strings.Contains(rule, "0.0.0.0/0") || strings.Contains(rule, "::/0") {
				assert.True(t, s.config.PublicSwarm, "private swarm has an Internet rule: %s", rule)
				assert.Regexp(t, `^PeerSecurityGroup <- 0\.0\.0\.0/0 (tcp|udp)/4001-4001$`, rule)
			}
			assert.NotContains(t, rule, "5001", "kubo RPC must never be in a security group")
		}
	}
	// The load balancer may only talk to the nodes' service ports.
	for _, egress := range defaults.ofType("AWS::EC2::SecurityGroupEgress") {
		if groupName(ref(egress.Properties["GroupId"])) == "LoadBalancerSecurityGroup" {
			assert.Contains(t, []any{float64(8080), float64(9094)}, egress.Properties["FromPort"])
		}
	}
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
	for _, s := range []*synthesized{defaults, privateSwarm} {
		// Every stack of the app, the us-east-1 edge stack included.
		for _, child := range *s.cdkApp.Node().Children() {
			if !*awscdk.Stack_IsStack(child) {
				continue
			}
			raw, err := json.Marshal(assertions.Template_FromStack(child.(awscdk.Stack), nil).ToJSON())
			require.NoError(t, err)
			// Asset keys and image tags are SHA-256 digests of the build
			// contexts: the only 64-hex strings allowed, and only there.
			text := assetDigests.ReplaceAllString(string(raw), "$1<digest>$2")
			for what, shape := range secretShapes {
				assert.False(t, shape.MatchString(text), "%s contains a %s", *child.Node().Id(), what)
			}
			assert.NotContains(t, text, "p@ssw0rd")
		}
		// Task definitions: secrets are ARN references in Secrets, never
		// environment values.
		for id, task := range s.ofType("AWS::ECS::TaskDefinition") {
			for _, c := range list(task.Properties["ContainerDefinitions"]) {
				for _, env := range list(path(c, "Environment")) {
					name := fmt.Sprint(path(env, "Name"))
					assert.NotRegexp(t, `(?i)secret|password|seed|privatekey|credential`, name, "%s: %s in the environment", id, name)
				}
				for _, secret := range list(path(c, "Secrets")) {
					valueFrom, err := json.Marshal(path(secret, "ValueFrom"))
					require.NoError(t, err)
					assert.Contains(t, string(valueFrom), "Ref", "%s: secret %v must reference Secrets Manager", id, path(secret, "Name"))
				}
				assert.Nil(t, path(c, "Command"), "%s: no command line (it would show in the console)", id)
			}
		}
		// Generated secrets carry only a template; the values are made by
		// Secrets Manager at deploy time.
		for id, secret := range s.ofType("AWS::SecretsManager::Secret") {
			assert.Nil(t, secret.Properties["SecretString"], "%s has a literal value", id)
			require.NotNil(t, secret.Properties["GenerateSecretString"], id)
			assert.Equal(t, true, path(secret.Properties, "GenerateSecretString", "ExcludePunctuation"), "%s: ',' and ':' would break user:pass lists", id)
		}
	}
}

func TestRestCredentialsAreReplicatedForTheEdge(t *testing.T) {
	var names []any
	for _, secret := range defaults.ofType("AWS::SecretsManager::Secret") {
		if secret.Properties["Name"] != nil {
			names = append(names, secret.Properties["Name"])
			assert.Equal(t, []any{map[string]any{"Region": "us-east-1"}}, secret.Properties["ReplicaRegions"])
		}
	}
	assert.Equal(t, []any{defaults.config.RestAPICredentialsSecretName}, names)
}

// TestInvalidConfigurationCreatesNothing: app.Build rejects bad context
// with every problem named, before a single construct exists.
func TestInvalidConfigurationCreatesNothing(t *testing.T) {
	ctx := cdkJSONContext(map[string]any{
		config.KeyNodeCount:             "2",
		config.KeyTaskMemoryMiB:         "1000",
		config.KeyEfsThroughputMode:     "fast",
		config.KeyReplicationFactorMax:  "9",
		config.KeyAvailabilityZones:     "eu-west-1a,eu-west-1a",
		config.KeyLogRetentionDays:      "42",
		config.KeyGatewayCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/x",
	})
	cdkApp := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	stack, err := app.Build(cdkApp, repoRoot)
	require.Error(t, err)
	assert.Nil(t, stack)
	assert.Empty(t, *cdkApp.Node().Children(), "nothing may be created from an invalid configuration")
	for _, key := range []string{config.KeyNodeCount, config.KeyTaskMemoryMiB, config.KeyEfsThroughputMode, config.KeyReplicationFactorMax, config.KeyAvailabilityZones, config.KeyLogRetentionDays, config.KeyGatewayCertificateArn} {
		assert.Contains(t, err.Error(), key)
	}
}
