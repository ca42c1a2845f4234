package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/stackspec"
)

func TestShippedCdkJSONIsValidAndMatchesDefaults(t *testing.T) {
	ctx, err := LoadCdkJSONContext("../cdk.json")
	require.NoError(t, err)
	cfg, err := Parse(ctx)
	require.NoError(t, err)
	want := Defaults()
	want.RestAPICredentialsSecretName = want.StackName + "/rest-api-credentials"
	assert.Equal(t, want, cfg, "cdk.json and Defaults() must agree, so the README table stays true")
	for _, key := range Keys {
		if key == KeyEfsProvisionedMiBps || key == KeyRestAPICredentialsName {
			continue
		}
		assert.Contains(t, ctx, key, "cdk.json should show every setting")
	}
}

func TestCommandLineStringsAreParsed(t *testing.T) {
	cfg, err := Parse(map[string]any{
		KeyNodeCount:            "6",
		KeyPublicSwarm:          "false",
		KeyAvailabilityZones:    "us-east-2a, us-east-2b,us-east-2c",
		KeyRegion:               "us-east-2",
		KeyReplicationFactorMax: "4",
		KeyEfsThroughputMode:    "Provisioned",
		KeyEfsProvisionedMiBps:  "128",
		KeySyncPinsetWrites:     "true",
	})
	require.NoError(t, err)
	assert.Equal(t, 6, cfg.NodeCount)
	assert.True(t, cfg.SyncPinsetWrites)
	assert.True(t, cfg.NodeSettings(5).SyncPinsetWrites, "every peer gets the setting")
	assert.False(t, cfg.PublicSwarm)
	assert.Equal(t, []string{"us-east-2a", "us-east-2b", "us-east-2c"}, cfg.AvailabilityZones)
	assert.Equal(t, ThroughputProvisioned, cfg.EfsThroughputMode)
	assert.Equal(t, "us-east-2b", cfg.ZoneOf(4))
}

func TestInvalidConfigurationsAreRejectedWithTheirSetting(t *testing.T) {
	cases := []struct {
		name     string
		raw      map[string]any
		messages []string
	}{
		{"too few nodes", map[string]any{KeyNodeCount: 2.0}, []string{"nodeCount: 2 is out of range; allowed: 3 to 30"}},
		{"node count not a number", map[string]any{KeyNodeCount: "three"}, []string{`nodeCount: must be a whole number, got "three"`}},
		{"fractional nodes", map[string]any{KeyNodeCount: 3.5}, []string{"nodeCount: must be a whole number"}},
		{"cpu not fargate", map[string]any{KeyTaskCPU: 1000.0}, []string{"taskCpu: 1000 is not a Fargate CPU value; allowed: [256 512 1024 2048 4096 8192 16384]"}},
		{"memory not valid for cpu", map[string]any{KeyTaskMemoryMiB: 16384.0}, []string{"taskMemoryMiB: 16384 MiB is not valid with 1024 CPU units; allowed: 2048 to 8192 in steps of 1024"}},
		{"memory too small", map[string]any{KeyTaskCPU: 512.0, KeyTaskMemoryMiB: 1024.0}, []string{"taskMemoryMiB: 1024 MiB is too small"}},
		{"min above max", map[string]any{KeyReplicationFactorMin: 3.0, KeyReplicationFactorMax: 2.0}, []string{"replicationFactorMin/replicationFactorMax: min=3 max=2; allowed: 1 <= min <= max <= the number of peers (3)"}},
		{"max above nodes", map[string]any{KeyReplicationFactorMax: 4.0}, []string{"max=4; allowed: 1 <= min <= max <= the number of peers (3)"}},
		{"min zero", map[string]any{KeyReplicationFactorMin: 0.0}, []string{"min=0"}},
		{"two zones", map[string]any{KeyAvailabilityZones: []any{"eu-west-1a", "eu-west-1b"}}, []string{"availabilityZones: needs exactly 3 availability zones, got 2"}},
		{"zone of another region", map[string]any{KeyAvailabilityZones: "eu-west-1a,eu-west-1b,us-east-1c"}, []string{`availabilityZones: "us-east-1c" is not a zone of region "eu-west-1"`}},
		{"duplicate zone", map[string]any{KeyAvailabilityZones: "eu-west-1a,eu-west-1b,eu-west-1b"}, []string{`"eu-west-1b" is listed twice`}},
		{"bad region", map[string]any{KeyRegion: "Europe"}, []string{`region: "Europe" is not an AWS region name`}},
		{"bad account", map[string]any{KeyAccount: "12345"}, []string{`account: "12345" is not an AWS account ID; allowed: empty (environment-agnostic) or 12 digits`}},
		{"bad storage", map[string]any{KeyKuboStorageMax: "lots"}, []string{`kuboStorageMax: "lots" is not a size`}},
		{"bad throughput mode", map[string]any{KeyEfsThroughputMode: "turbo"}, []string{`efsThroughputMode: "turbo" is unknown; allowed: elastic, bursting, provisioned`}},
		{"provisioned without rate", map[string]any{KeyEfsThroughputMode: "provisioned"}, []string{"efsProvisionedThroughputMiBps: 0 is out of range for provisioned throughput; allowed: 1 to 3414"}},
		{"rate without provisioned", map[string]any{KeyEfsProvisionedMiBps: 10.0}, []string{"efsProvisionedThroughputMiBps: is only used with efsThroughputMode=provisioned"}},
		{"bad removal policy", map[string]any{KeyDataRemovalPolicy: "snapshot"}, []string{`dataRemovalPolicy: "snapshot" is unknown; allowed: retain, destroy`}},
		{"public swarm not bool", map[string]any{KeyPublicSwarm: "maybe"}, []string{`publicSwarm: must be true or false, got "maybe"`}},
		{"sync pinset writes not bool", map[string]any{KeySyncPinsetWrites: "always"}, []string{`syncPinsetWrites: must be true or false, got "always"`}},
		{"bad retention", map[string]any{KeyLogRetentionDays: 42.0}, []string{"logRetentionDays: 42 is not a CloudWatch Logs retention; allowed: [1 3 5 7 14 30 60 90"}},
		{"bad namespace", map[string]any{KeyCloudMapNamespace: "Not A Name"}, []string{`cloudMapNamespace: "Not A Name" is not a DNS name`}},
		{"bad cidr", map[string]any{KeyVpcCidr: "10.0.0.0/8"}, []string{`vpcCidr: "10.0.0.0/8" is a /8; allowed: /16 to /19`}},
		{"domain without certificate", map[string]any{KeyGatewayDomainName: "ipfs.example.com"}, []string{"gatewayDomainName/gatewayCertificateArn: must be set together"}},
		{"certificate outside us-east-1", map[string]any{KeyAPIDomainName: "api.example.com", KeyAPICertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"}, []string{"apiCertificateArn:", "is not an ACM certificate ARN in us-east-1"}},
		{"bad price class", map[string]any{KeyCloudFrontPriceClass: "cheap"}, []string{`cloudFrontPriceClass: "cheap" is unknown; allowed: PriceClass_100, PriceClass_200, PriceClass_All`}},
		{"username with colon", map[string]any{KeyRestAPIUsername: "ad:min"}, []string{`restApiUsername: "ad:min" is not allowed`}},
		{"no-fetch with partial replication", map[string]any{KeyGatewayNoFetch: true, KeyReplicationFactorMax: 2.0}, []string{"gatewayNoFetch: true needs replicationFactorMax = nodeCount (3), got 2"}},
		{"bad stack name", map[string]any{KeyStackName: "1stack"}, []string{`stackName: "1stack" is not a valid stack name`}},
		{"list of non-strings", map[string]any{KeyAvailabilityZones: []any{1.0, 2.0, 3.0}}, []string{"availabilityZones: must be a list of strings"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.raw)
			require.Error(t, err)
			for _, msg := range tc.messages {
				assert.Contains(t, err.Error(), msg)
			}
		})
	}
}

func TestAllProblemsAreReportedTogether(t *testing.T) {
	_, err := Parse(map[string]any{KeyNodeCount: 1.0, KeyTaskCPU: 3.0, KeyDataRemovalPolicy: "never", KeyVpcCidr: "x"})
	require.Error(t, err)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	assert.GreaterOrEqual(t, len(verr.Problems), 4)
	for _, key := range []string{KeyNodeCount, KeyTaskCPU, KeyDataRemovalPolicy, KeyVpcCidr} {
		assert.True(t, strings.Contains(err.Error(), key+":"), "missing %s in %s", key, err)
	}
}

func TestSecondRegion(t *testing.T) {
	two := map[string]any{
		KeySecondRegion:                  "us-east-2",
		KeySecondRegionAvailabilityZones: "us-east-2a,us-east-2b,us-east-2c",
	}
	cfg, err := Parse(two)
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.SecondRegionNodeCount, "unset: as many as the first region")
	assert.Equal(t, 6, cfg.TotalNodes())
	assert.Equal(t, []int{0, 1, 2, 100, 101, 102}, cfg.PeerIndices())
	for n, want := range []struct{ region, zone string }{{"eu-west-1", "eu-west-1a"}, {"eu-west-1", "eu-west-1b"}, {"eu-west-1", "eu-west-1c"}, {"us-east-2", "us-east-2a"}, {"us-east-2", "us-east-2b"}, {"us-east-2", "us-east-2c"}} {
		i := cfg.PeerIndices()[n]
		s := cfg.NodeSettings(i)
		assert.Equal(t, want.region, s.Region, "node%d", i)
		assert.Equal(t, want.zone, s.Zone, "node%d", i)
		assert.Equal(t, 6, s.PeerCount)
		require.NoError(t, s.Validate())
	}
	assert.Equal(t, "node101.us-east-2.ipfs-cluster.internal", strings.Split(strings.TrimPrefix(cfg.NodeSettings(0).PeerMultiaddrs()[4], "/dns4/"), "/")[0])

	two[KeySecondRegionNodeCount] = 4.0
	two[KeyReplicationFactorMax] = 7.0
	cfg, err = Parse(two)
	require.NoError(t, err)
	assert.Equal(t, 7, cfg.TotalNodes())
	assert.Equal(t, "us-east-2a", cfg.ZoneOf(103))
	// A bigger first region leaves the second region's indices alone.
	two[KeyNodeCount] = 4.0
	cfg, err = Parse(two)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2, 3, 100, 101, 102, 103}, cfg.PeerIndices())

	cases := []struct {
		name     string
		raw      map[string]any
		messages []string
	}{
		{"settings without the region", map[string]any{KeySecondRegionNodeCount: 3.0, KeySecondRegionAvailabilityZones: "us-east-2a"}, []string{
			"secondRegionNodeCount: is set but secondRegion is empty",
			"secondRegionAvailabilityZones: is set but secondRegion is empty",
		}},
		{"same region", map[string]any{KeySecondRegion: "eu-west-1", KeySecondRegionAvailabilityZones: "eu-west-1a,eu-west-1b,eu-west-1c"}, []string{`secondRegion: "eu-west-1" is the first region`}},
		{"zones of another region", map[string]any{KeySecondRegion: "us-east-2", KeySecondRegionAvailabilityZones: "us-east-1a,us-east-2b,us-east-2b"}, []string{
			`secondRegionAvailabilityZones: "us-east-1a" is not a zone of region "us-east-2"`,
			`secondRegionAvailabilityZones: "us-east-2b" is listed twice`,
		}},
		{"no zones", map[string]any{KeySecondRegion: "us-east-2"}, []string{"secondRegionAvailabilityZones: needs exactly 3 availability zones, got 0"}},
		{"overlapping ranges", map[string]any{KeySecondRegion: "us-east-2", KeySecondRegionAvailabilityZones: "us-east-2a,us-east-2b,us-east-2c", KeySecondRegionVpcCidr: "10.42.128.0/17"}, []string{"secondRegionVpcCidr: 10.42.128.0/17 overlaps vpcCidr 10.42.0.0/16"}},
		{"too many peers", map[string]any{KeyNodeCount: 20.0, KeySecondRegion: "us-east-2", KeySecondRegionAvailabilityZones: "us-east-2a,us-east-2b,us-east-2c"}, []string{"nodeCount/secondRegionNodeCount: 20 + 20 peers; allowed: at most 30 together"}},
		{"first region too large beside a second", map[string]any{KeyNodeCount: float64(stackspec.MaxNodesWithSecondRegion() + 1), KeySecondRegion: "us-east-2", KeySecondRegionAvailabilityZones: "us-east-2a,us-east-2b,us-east-2c", KeySecondRegionNodeCount: 3.0}, []string{fmt.Sprintf("nodeCount: %d beside a second region; allowed: 3 to %d", stackspec.MaxNodesWithSecondRegion()+1, stackspec.MaxNodesWithSecondRegion())}},
		{"too few in the second", map[string]any{KeySecondRegion: "us-east-2", KeySecondRegionAvailabilityZones: "us-east-2a,us-east-2b,us-east-2c", KeySecondRegionNodeCount: 2.0}, []string{"secondRegionNodeCount: 2 is out of range; allowed: 3 to 30"}},
		{"not a region", map[string]any{KeySecondRegion: "mars-1", KeySecondRegionAvailabilityZones: "mars-1a,mars-1b,mars-1c"}, []string{"secondRegion: "}},
		{"another partition", map[string]any{KeySecondRegion: "cn-north-1", KeySecondRegionAvailabilityZones: "cn-north-1a,cn-north-1b,cn-north-1c"}, []string{"secondRegion: "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.raw)
			require.Error(t, err)
			for _, m := range tc.messages {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}
