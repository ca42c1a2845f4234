package config

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliContext is CDK_CONTEXT_JSON as the aws-cdk CLI 2.1148.1 hands it to
// the app (recorded from a probe app that printed it), with the keys of
// every synth option that adds one (--no-version-reporting, --no-staging,
// -e) and of `cdk acknowledge`, merged over cdk.json's context.
const cliContext = `{
	"acknowledged-issue-numbers": [12345],
	"aws:cdk:enable-path-metadata": true,
	"aws:cdk:enable-asset-metadata": true,
	"aws:cdk:version-reporting": true,
	"aws:cdk:disable-version-reporting": true,
	"aws:cdk:disable-asset-staging": true,
	"aws:cdk:bundling-stacks": ["**"],
	"@aws-cdk/core:failSynthOnValidationErrors": false
}`

func TestCDKsOwnKeysPass(t *testing.T) {
	ctx, err := LoadCdkJSONContext("../cdk.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(cliContext), &ctx))
	for _, key := range []string{
		"availability-zones:account=123456789012:region=eu-west-1",
		"vpc-provider:account=123456789012:filter.vpc-id=vpc-1:region=eu-west-1:returnAsymmetricSubnets=true",
		"hosted-zone:account=123456789012:domainName=example.org:region=eu-west-1",
		"ssm:account=123456789012:parameterName=/x:region=eu-west-1",
		"@aws-cdk/core:bootstrapQualifier",
		"@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver",
		"@aws-cdk/aws-lambda:recognizeVersionProps",
		"aws-cdk:enableDiffNoFail",
	} {
		ctx[key] = true
	}
	_, err = Parse(ctx)
	assert.NoError(t, err)
}

func TestUnknownKeysAreRefusedWithTheNearestSetting(t *testing.T) {
	for key, want := range map[string]string{
		"nodecount":            "unknown setting nodecount; did you mean nodeCount? allowed: stackName, account, region,",
		"NodeCount":            "did you mean nodeCount?",
		"nodeCont":             "did you mean nodeCount?",
		"regoin":               "did you mean region?",
		"publicswarm":          "did you mean publicSwarm?",
		"replicationFactor":    "did you mean replicationFactorMin?",
		"backupCopyRegions":    "did you mean backupCopyRegion?",
		"testOverride":         "did you mean testOverrides?",
		"colour":               "unknown setting colour; allowed: stackName,",
		"ami":                  "unknown setting ami; allowed:",
		"cdk-migrate":          "unknown setting cdk-migrate; allowed:",
		"aws:cdk":              "unknown setting aws:cdk; allowed:",
		"zones:account=1":      "unknown setting zones:account=1; allowed:",
		"availability-zones:x": "unknown setting availability-zones:x; did you mean availabilityZones?",
	} {
		_, err := Parse(map[string]any{key: "5"})
		require.Error(t, err, key)
		assert.Contains(t, err.Error(), want, key)
		assert.Contains(t, err.Error(), "and CDK's own keys (aws:cdk:*, @aws-cdk/*", key)
	}
	// Every problem at once: two unknown keys and a bad value.
	problems := problemsOf(t, errOf(Parse(map[string]any{"nodecount": "5", "colour": "blue", KeyTaskCPU: "3"})))
	require.Len(t, problems, 3, "%v", problems)
	assert.True(t, strings.HasPrefix(problems[0], "unknown setting colour;"), problems[0])
	assert.True(t, strings.HasPrefix(problems[1], "unknown setting nodecount; did you mean nodeCount?"), problems[1])
	assert.True(t, strings.HasPrefix(problems[2], KeyTaskCPU+":"), problems[2])
}

func TestUnknownOverridesAreRefusedWithTheNearestSetting(t *testing.T) {
	_, err := Parse(pipelineContext(map[string]any{
		KeyTestOverrides: `{"nodecount": 5}`,
		KeyProdOverrides: map[string]any{"@aws-cdk/core:bootstrapQualifier": "x", KeyRegion: "eu-west-1"},
	}))
	problems := problemsOf(t, err)
	joined := strings.Join(problems, "\n")
	assert.Contains(t, joined, "testOverrides: unknown setting nodecount; did you mean nodeCount? allowed: stackName, availabilityZones,")
	// CDK's keys are app-wide: none of them is a stage's setting.
	assert.Contains(t, joined, "prodOverrides: unknown setting @aws-cdk/core:bootstrapQualifier; allowed:")
	assert.Contains(t, joined, `prodOverrides: "region" cannot be overridden per stage`)
	assert.Len(t, problems, 3, joined)
}

func errOf(_ Config, err error) error { return err }

func TestRegionsOutsideTheAWSPartitionAreRefusedWithTheReason(t *testing.T) {
	zones := func(region string) string { return region + "a," + region + "b," + region + "c" }
	const reason = "the app's edge (CloudFront with Lambda@Edge in us-east-1) exists only in the aws partition"
	for _, tc := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{KeyRegion: "cn-north-1", KeyAvailabilityZones: zones("cn-north-1")}, `region: "cn-north-1" is a region of the aws-cn partition; allowed: a region of the aws partition`},
		{map[string]any{KeyRegion: "us-gov-west-1", KeyAvailabilityZones: zones("us-gov-west-1")}, `region: "us-gov-west-1" is a region of the aws-us-gov partition`},
		{map[string]any{KeyRegion: "us-iso-east-1", KeyAvailabilityZones: zones("us-iso-east-1")}, `region: "us-iso-east-1" is a region of the aws-iso partition`},
		{map[string]any{KeyRegion: "us-isob-east-1", KeyAvailabilityZones: zones("us-isob-east-1")}, `region: "us-isob-east-1" is a region of the aws-iso-b partition`},
		{map[string]any{KeyRegion: "eu-isoe-west-1", KeyAvailabilityZones: zones("eu-isoe-west-1")}, `region: "eu-isoe-west-1" is a region of the aws-iso-e partition`},
		{map[string]any{KeyRegion: "eusc-de-east-1", KeyAvailabilityZones: zones("eusc-de-east-1")}, `region: "eusc-de-east-1" is a region of the aws-eusc partition`},
		{map[string]any{KeyBackupCopyRegion: "us-gov-east-1"}, `backupCopyRegion: "us-gov-east-1" is a region of the aws-us-gov partition`},
		{map[string]any{KeyGatewayDomainName: "ipfs.example.org", KeyGatewayCertificateArn: "arn:aws-us-gov:acm:us-east-1:123456789012:certificate/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f"}, `gatewayCertificateArn: "arn:aws-us-gov:acm:us-east-1:123456789012:certificate/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f" is in the aws-us-gov partition`},
		{map[string]any{KeyWebACLArn: "arn:aws-cn:wafv2:us-east-1:123456789012:global/webacl/x/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f"}, `webAclArn: "arn:aws-cn:wafv2:us-east-1:123456789012:global/webacl/x/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f" is in the aws-cn partition`},
		{pipelineContext(map[string]any{KeyPipelineRegion: "cn-northwest-1"}), `pipelineRegion: "cn-northwest-1" is a region of the aws-cn partition`},
		{pipelineContext(map[string]any{KeyTestRegion: "us-gov-east-1"}), `testRegion: "us-gov-east-1" is a region of the aws-us-gov partition`},
		{pipelineContext(map[string]any{KeyProdRegion: "eusc-de-east-1"}), `prodRegion: "eusc-de-east-1" is a region of the aws-eusc partition`},
		{pipelineContext(map[string]any{KeySourceConnectionArn: strings.Replace(testConnection, "arn:aws:", "arn:aws-cn:", 1)}), `sourceConnectionArn: "arn:aws-cn:codeconnections:eu-west-1:111111111111:connection/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f" is in the aws-cn partition`},
	} {
		_, err := Parse(tc.raw)
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), tc.want)
		assert.Contains(t, err.Error(), reason, tc.want)
	}
}
