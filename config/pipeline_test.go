package config

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testConnection = "arn:aws:codeconnections:eu-west-1:111111111111:connection/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f"

// pipelineContext is the smallest context that turns the pipelines on.
func pipelineContext(extra map[string]any) map[string]any {
	raw := map[string]any{
		KeyPipelineAccount:     "111111111111",
		KeySourceRepository:    "owner/repo",
		KeySourceConnectionArn: testConnection,
		KeyTestAccount:         "222222222222",
		KeyProdAccount:         "333333333333",
	}
	maps.Copy(raw, extra)
	return raw
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	return verr.Problems
}

func TestPipelinesStayOffWithoutPipelineSettings(t *testing.T) {
	ctx, err := LoadCdkJSONContext("../cdk.json")
	require.NoError(t, err)
	for _, key := range PipelineKeys {
		assert.Contains(t, ctx, key, "cdk.json shows every pipeline setting, empty")
		assert.Contains(t, Keys, key, "the app reads every pipeline setting")
	}
	cfg, err := Parse(ctx)
	require.NoError(t, err)
	assert.Nil(t, cfg.Pipeline, "empty placeholders must not turn the pipelines on")

	cfg, err = Parse(map[string]any{KeyTestOverrides: "{}", KeyProdOverrides: map[string]any{}, KeyTestRegion: " "})
	require.NoError(t, err)
	assert.Nil(t, cfg.Pipeline)
}

func TestPipelineStagesDeriveFromTheBaseConfiguration(t *testing.T) {
	cfg, err := Parse(pipelineContext(map[string]any{
		KeyTaskMemoryMiB: 8192.0,
		// From cdk.json: an object; from -c: its JSON text.
		KeyTestOverrides: map[string]any{KeyTaskMemoryMiB: 2048.0, KeyDataRemovalPolicy: "destroy", KeyStackName: "IpfsClusterTest"},
		KeyProdOverrides: `{"nodeCount": 6, "replicationFactorMax": 4}`,
	}))
	require.NoError(t, err)
	pl := cfg.Pipeline
	require.NotNil(t, pl)
	assert.Equal(t, "111111111111", pl.Account)
	assert.Equal(t, "eu-west-1", pl.Region, "pipelineRegion defaults to region")
	assert.Equal(t, "owner/repo", pl.SourceRepository)

	assert.Equal(t, "222222222222", pl.Test.Account)
	assert.Equal(t, "eu-west-1", pl.Test.Region)
	assert.Equal(t, 2048, pl.Test.TaskMemoryMiB)
	assert.Equal(t, RemovalDestroy, pl.Test.DataRemovalPolicy)
	assert.Equal(t, "IpfsClusterTest", pl.Test.StackName)
	assert.Equal(t, "IpfsClusterTest/rest-api-credentials", pl.Test.RestAPICredentialsSecretName, "derived names follow the stage's stack name")
	assert.Equal(t, 3, pl.Test.NodeCount)
	assert.Nil(t, pl.Test.Pipeline)

	assert.Equal(t, "333333333333", pl.Prod.Account)
	assert.Equal(t, 8192, pl.Prod.TaskMemoryMiB, "base settings reach every stage")
	assert.Equal(t, 6, pl.Prod.NodeCount)
	assert.Equal(t, 4, pl.Prod.ReplicationFactorMax)
	assert.Equal(t, RemovalRetain, pl.Prod.DataRemovalPolicy)
	assert.Equal(t, "IpfsCluster", pl.Prod.StackName)

	assert.Equal(t, 8192, cfg.TaskMemoryMiB, "overrides leave the base alone")
	assert.Equal(t, 3, cfg.NodeCount)
}

func TestPipelineRegionsAreSetPerStage(t *testing.T) {
	cfg, err := Parse(pipelineContext(map[string]any{
		KeyPipelineRegion: "eu-central-1",
		KeyProdRegion:     "us-east-2",
		KeyProdOverrides:  map[string]any{KeyAvailabilityZones: []any{"us-east-2a", "us-east-2b", "us-east-2c"}},
	}))
	require.NoError(t, err)
	assert.Equal(t, "eu-central-1", cfg.Pipeline.Region)
	assert.Equal(t, "eu-west-1", cfg.Pipeline.Test.Region)
	assert.Equal(t, "us-east-2", cfg.Pipeline.Prod.Region)
	assert.Equal(t, []string{"us-east-2a", "us-east-2b", "us-east-2c"}, cfg.Pipeline.Prod.AvailabilityZones)
}

func TestEveryPipelineProblemIsReportedWithItsKey(t *testing.T) {
	_, err := Parse(map[string]any{
		KeyPipelineAccount:     "1111",
		KeyPipelineRegion:      "Frankfurt",
		KeySourceRepository:    "https://github.com/owner/repo",
		KeySourceConnectionArn: "arn:aws:codecommit:eu-west-1:111111111111:repo",
		KeyTestRegion:          "eu_west_1",
		KeyProdAccount:         "33333333333a",
		KeyTestOverrides:       "{taskMemoryMiB: 2048}",
		KeyProdOverrides:       map[string]any{KeyAccount: "444444444444", "colour": "blue"},
	})
	problems := problemsOf(t, err)
	joined := strings.Join(problems, "\n")
	for _, want := range []string{
		`pipelineAccount: "1111" is not an AWS account ID; allowed: 12 digits`,
		`pipelineRegion: "Frankfurt" is not an AWS region name`,
		`sourceRepository: "https://github.com/owner/repo" is not a repository; allowed: owner/name`,
		`sourceConnectionArn: "arn:aws:codecommit:eu-west-1:111111111111:repo" is not a connection ARN; allowed: arn:aws:codeconnections:`,
		`testAccount: "" is not an AWS account ID`,
		`testRegion: "eu_west_1" is not an AWS region name`,
		`prodAccount: "33333333333a" is not an AWS account ID`,
		`testOverrides: "{taskMemoryMiB: 2048}" is not a JSON object`,
		`prodOverrides: "account" cannot be overridden per stage; allowed: stackName, availabilityZones,`,
		"prodOverrides: unknown setting colour; allowed: stackName, availabilityZones, nodeCount,",
	} {
		assert.Contains(t, joined, want)
	}
}

func TestConnectionArnsOfBothServicesAreAccepted(t *testing.T) {
	for _, arn := range []string{
		testConnection,
		"arn:aws:codestar-connections:us-east-1:111111111111:connection/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f",
	} {
		cfg, err := Parse(pipelineContext(map[string]any{KeySourceConnectionArn: arn}))
		require.NoError(t, err, arn)
		assert.Equal(t, arn, cfg.Pipeline.SourceConnectionArn)
	}
	for arn, want := range map[string]string{
		"arn:aws:codeconnections:eu-west-1:999999999999:connection/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f": "belongs to account 999999999999; allowed: a connection of pipelineAccount (111111111111)",
		"arn:aws:codeconnections:eu-west-1:111111111111:host/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f":       "is not a connection ARN",
		"arn:aws:codestar:eu-west-1:111111111111:connection/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f":        "is not a connection ARN",
	} {
		_, err := Parse(pipelineContext(map[string]any{KeySourceConnectionArn: arn}))
		require.Error(t, err, arn)
		assert.Contains(t, err.Error(), KeySourceConnectionArn+": ")
		assert.Contains(t, err.Error(), want)
	}
}

func TestAnyPipelineSettingRequiresTheOthers(t *testing.T) {
	_, err := Parse(map[string]any{KeyTestRegion: "eu-central-1"})
	problems := problemsOf(t, err)
	for _, key := range []string{KeyPipelineAccount, KeySourceRepository, KeySourceConnectionArn, KeyTestAccount, KeyProdAccount} {
		assert.True(t, slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, key+": ") }), "missing %s in %v", key, problems)
	}
}

func TestStageOverridesAreValidatedByParse(t *testing.T) {
	_, err := Parse(pipelineContext(map[string]any{
		KeyNodeCount:     2.0, // a base problem: reported once, not per stage
		KeyTestOverrides: map[string]any{KeyTaskMemoryMiB: 1000.0},
		KeyProdRegion:    "us-east-2", // the base zones are eu-west-1's
	}))
	problems := problemsOf(t, err)
	joined := strings.Join(problems, "\n")
	assert.Equal(t, 1, strings.Count(joined, "nodeCount: 2 is out of range"), joined)
	assert.Contains(t, joined, "test stage (base settings + testOverrides, in testRegion eu-west-1): taskMemoryMiB: 1000 MiB is not valid with 1024 CPU units")
	assert.Contains(t, joined, `prod stage (base settings + prodOverrides, in prodRegion us-east-2): availabilityZones: "eu-west-1a" is not a zone of region "us-east-2"`)
	assert.NotContains(t, joined, "prod stage (base settings + prodOverrides, in prodRegion us-east-2): taskMemoryMiB", "an override of one stage stays in that stage")
}

func TestStagesSharingAnAccountNeedTheirOwnNames(t *testing.T) {
	same := map[string]any{KeyProdAccount: "222222222222"}
	_, err := Parse(pipelineContext(same))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `testOverrides/prodOverrides: both stages deploy stack "IpfsCluster" into account 222222222222`)

	// Other regions do not help: the secrets' replicas meet in us-east-1.
	same[KeyProdRegion] = "eu-west-2"
	same[KeyProdOverrides] = map[string]any{KeyAvailabilityZones: "eu-west-2a,eu-west-2b,eu-west-2c", KeyStackName: "IpfsClusterProd", KeyRestAPICredentialsName: "IpfsCluster/rest-api-credentials"}
	_, err = Parse(pipelineContext(same))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `both stages name their credentials secret "IpfsCluster/rest-api-credentials"`)

	same[KeyTestOverrides] = map[string]any{KeyStackName: "IpfsClusterTest"}
	delete(same[KeyProdOverrides].(map[string]any), KeyRestAPICredentialsName)
	cfg, err := Parse(pipelineContext(same))
	require.NoError(t, err)
	assert.Equal(t, "IpfsClusterTest-smoke-test", cfg.Pipeline.Test.SmokeTestRoleName())
	assert.Equal(t, "IpfsClusterProd-smoke-test", cfg.Pipeline.Prod.SmokeTestRoleName())
}

func TestStageStackNamesLeaveRoomForTheSmokeTestRole(t *testing.T) {
	long := "A" + strings.Repeat("b", 53) // 54 characters: a valid stack name
	_, err := Parse(map[string]any{KeyStackName: long})
	require.NoError(t, err)
	_, err = Parse(pipelineContext(map[string]any{KeyStackName: long}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stackName: \""+long+"\" is too long for a pipeline stage; allowed: at most 53 characters")
	_, err = Parse(pipelineContext(map[string]any{KeyStackName: long[:53]}))
	assert.NoError(t, err)
}
