package test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// The composition: what the stack adds on top of its constructs.

func TestOutputsForOperators(t *testing.T) {
	for _, s := range allApps() {
		output := func(key string) string {
			v, ok := path(s.outputs, key, "Value").(string)
			require.True(t, ok, "output %s is a literal", key)
			return v
		}
		var peers []string
		for i := 0; i < s.config.NodeCount; i++ {
			peers = append(peers, nodespec.PeerDNSName(i, s.config.CloudMapNamespace))
		}
		assert.Equal(t, strings.Join(peers, ","), output(outputs.PeerDNSNames))
		assert.Equal(t, s.config.RestAPICredentialsSecretName, output(outputs.RestAPICredentialsSecretName))
		assert.Equal(t, strconv.Itoa(s.config.ReplicationFactorMin), output(outputs.ReplicationFactorMin))
		for _, key := range []string{outputs.LoadBalancerDNSName, outputs.IdentitySeedSecretArn, outputs.EcsClusterName, outputs.NodeServiceNames, outputs.GatewayURL, outputs.RestAPIURL} {
			assert.Contains(t, s.outputs, key)
		}
		// The service names in index order, as the smoke test and the
		// rolling update read them.
		names := list(path(s.outputs, outputs.NodeServiceNames, "Value", "Fn::Join", 1))
		require.Len(t, names, 2*s.config.NodeCount-1, "names joined with commas")
		for i := 0; i < s.config.NodeCount; i++ {
			id, _ := s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
			assert.Equal(t, map[string]any{"Fn::GetAtt": []any{id, "Name"}}, names[2*i], "node %d", i)
		}
	}
}

// TestStackFitsInAPipelineStage: CDK Pipelines puts the same stack in a
// Stage per environment.
func TestStackFitsInAPipelineStage(t *testing.T) {
	cdkApp := testApp(t, nil)
	stage := awscdk.NewStage(cdkApp, jsii.String("Test"), nil)
	cfg := defaults.config
	cfg.StackName = "IpfsClusterTest"
	cfg.RestAPICredentialsSecretName = "IpfsClusterTest/rest-api-credentials"
	stack, err := stacks.New(stage, "IpfsCluster", &stacks.Props{Config: cfg, SourceDir: repoRoot})
	require.NoError(t, err)
	assert.Equal(t, "IpfsClusterTest", *stack.StackName())
	assert.Len(t, stack.Nodes, cfg.NodeCount)
	assert.Equal(t, stage, awscdk.Stage_Of(stack.Stack), "the stack lives in the stage")
}

// TestInvalidConfigurationCreatesNothing: app.Build rejects bad context
// with every problem named, before a single construct exists.
func TestInvalidConfigurationCreatesNothing(t *testing.T) {
	keys := []string{config.KeyNodeCount, config.KeyTaskMemoryMiB, config.KeyEfsThroughputMode, config.KeyReplicationFactorMax, config.KeyAvailabilityZones, config.KeyLogRetentionDays, config.KeyGatewayCertificateArn}
	cdkApp := testApp(t, cdkJSONContext(map[string]any{
		config.KeyNodeCount:             "2",
		config.KeyTaskMemoryMiB:         "1000",
		config.KeyEfsThroughputMode:     "fast",
		config.KeyReplicationFactorMax:  "9",
		config.KeyAvailabilityZones:     "eu-west-1a,eu-west-1a",
		config.KeyLogRetentionDays:      "42",
		config.KeyGatewayCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/x",
	}))
	stack, err := app.Build(cdkApp, repoRoot)
	require.Error(t, err)
	assert.Nil(t, stack)
	assert.Empty(t, childIDs(cdkApp), "nothing may be created from an invalid configuration")
	for _, key := range keys {
		assert.Contains(t, err.Error(), key+": ")
	}
}

// TestStackValidatesTheWholeConfig: a Config that skipped config.Parse is
// checked with the same rules before the first construct.
func TestStackValidatesTheWholeConfig(t *testing.T) {
	cdkApp := testApp(t, nil)
	cfg := defaults.config
	cfg.RestAPICredentialsSecretName = "creds-AbC123"
	cfg.VpcCidr = "10.0.0.0/20"
	cfg.CloudMapNamespace = "Ipfs.Internal"
	_, err := stacks.New(cdkApp, "Invalid", &stacks.Props{Config: cfg, SourceDir: repoRoot})
	require.Error(t, err)
	for _, key := range []string{config.KeyRestAPICredentialsName, config.KeyVpcCidr, config.KeyCloudMapNamespace} {
		assert.Contains(t, err.Error(), key+": ")
	}
	assert.Empty(t, childIDs(cdkApp))
	_, err = stacks.New(cdkApp, "Nil", nil)
	assert.EqualError(t, err, "stacks.Props: required (nil)")
}
