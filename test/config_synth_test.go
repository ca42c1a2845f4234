package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
)

// Issue 7, item 1: a configuration config.Parse accepts always synthesizes;
// one it rejects never reaches a construct. The table walks tricky values of
// every string setting.

// nonStringKeys are the settings that are not strings (numbers, booleans);
// every other key of config.Keys must have rows below.
var nonStringKeys = []string{
	config.KeyNodeCount, config.KeyTaskCPU, config.KeyTaskMemoryMiB,
	config.KeyReplicationFactorMin, config.KeyReplicationFactorMax,
	config.KeyEfsProvisionedMiBps, config.KeyPublicSwarm, config.KeyLogRetentionDays,
	config.KeyPrivateGateway, config.KeyGatewayNoFetch, config.KeyGatewaySubdomains, config.KeyBackupRetentionDays,
	config.KeySyncPinsetWrites,
	config.KeySecondRegionNodeCount,
}

const (
	validCert   = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
	validWebACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/ipfs/abcdef01-2345-6789-abcd-ef0123456789"
	uuid        = "abcdef01-2345-6789-abcd-ef0123456789"
)

// trickyValue is one value of one setting, with the settings it needs to
// be judged alone (a domain needs its certificate, a region its zones).
type trickyValue struct {
	key   string
	value any
	with  map[string]any
	// names is the key the rejection must name when it is not key (a
	// value that needs a companion setting).
	names string
}

func trickyValues() []trickyValue {
	var rows []trickyValue
	add := func(key string, with map[string]any, values ...any) {
		for _, v := range values {
			rows = append(rows, trickyValue{key: key, value: v, with: with})
		}
	}
	long := func(n int) string { return strings.Repeat("a", n) }
	zonesOf := func(region string) map[string]any {
		return map[string]any{config.KeyAvailabilityZones: region + "a," + region + "b," + region + "c"}
	}

	add(config.KeyStackName, nil, "a", "A"+long(127), "Stack-", "creds-AbC123",
		"", "1stack", "my_stack", "ipfs.cluster", "Ipfs Cluster", "IpfsClüster", "Ｉｐｆｓ", "A"+long(128))
	add(config.KeyAccount, nil, "123456789012",
		"12345678901", "1234567890123", "１２３４５６７８９０１２", "12345678901x", "arn:aws:iam::123456789012:root", "-12345678901")
	// Regions outside the aws partition are refused with the reason.
	for _, region := range []string{"us-east-1", "us-gov-west-1", "cn-north-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1", "eusc-de-east-1",
		"", "EU-WEST-1", "eu-west", "euw1", "eu_west_1", "eu-west-1a", "eu-wést-1", "eu-west-1."} {
		add(config.KeyRegion, zonesOf(region), region)
	}
	add(config.KeyAvailabilityZones, nil, " eu-west-1c , eu-west-1b,eu-west-1a ",
		"", "eu-west-1a,eu-west-1b", "eu-west-1a,eu-west-1b,eu-west-1b", "eu-west-1a,eu-west-1b,us-east-1a",
		"euw1-az1,euw1-az2,euw1-az3", "EU-WEST-1A,EU-WEST-1B,EU-WEST-1C", "eu-west-1a,eu-west-1b,eu-west-1c,eu-west-1d",
		"eu-west-1a;eu-west-1b;eu-west-1c", "eu-west-1a,eu-west-1b,eu-west-1ä", []any{"eu-west-1a", 1.0, "eu-west-1c"})
	add(config.KeyKuboStorageMax, nil, "1KB", "999999TiB",
		"", "100", "100 GB", "100gb", "0GB", "1000000GB", "１００GB", "-1GB", "1.5TB", "100GB;rm -rf /")
	add(config.KeyEfsThroughputMode, nil, "ELASTIC", "bursting",
		"", "fast", "élastic", "elastic,bursting")
	add(config.KeyEfsThroughputMode, map[string]any{config.KeyEfsProvisionedMiBps: "100"}, "provisioned")
	rows = append(rows, trickyValue{key: config.KeyEfsThroughputMode, value: "provisioned", names: config.KeyEfsProvisionedMiBps})
	add(config.KeyDataRemovalPolicy, nil, "Destroy",
		"", "snapshot", "delete", "retain,destroy")
	add(config.KeyCloudMapNamespace, nil, "a.b",
		"", "internal", "Ipfs.Internal", "ipfs.internal.", "*.internal", "ipfs.exämple.org", "10.0.0.1",
		"ipfs-.internal", long(64)+".internal", "ipfs..internal", "ipfs_cluster.internal",
		long(55)+".internal", long(56)+".internal")
	add(config.KeyVpcCidr, nil, "10.0.0.0/19", "100.64.0.0/16",
		"", "10.0.0.0/20", "10.0.0.0/22", "10.0.0.0/15", "10.42.0.1/16", "2001:db8::/56", "10.42.0.0",
		"１０.42.0.0/16", "10.42.0.0/16,10.43.0.0/16", "010.042.000.000/16")

	// A second region comes with its zones; its settings without it are
	// refused by name.
	secondZones := func(region string) map[string]any {
		return map[string]any{config.KeySecondRegionAvailabilityZones: region + "a," + region + "b," + region + "c"}
	}
	for _, region := range []string{"us-east-2", "us-east-1",
		"eu-west-1", "US-EAST-2", "mars", "cn-north-1", "us-gov-west-1"} {
		add(config.KeySecondRegion, secondZones(region), region)
	}
	rows = append(rows, trickyValue{key: config.KeySecondRegion, value: "", with: secondZones("us-east-2"), names: config.KeySecondRegionAvailabilityZones})
	withSecond := map[string]any{config.KeySecondRegion: "us-east-2"}
	add(config.KeySecondRegionAvailabilityZones, withSecond, " us-east-2c , us-east-2b,us-east-2a ",
		"", "us-east-2a,us-east-2b", "us-east-2a,us-east-2b,us-east-2b", "eu-west-1a,eu-west-1b,eu-west-1c", []any{"us-east-2a", 1.0, "us-east-2c"})
	add(config.KeySecondRegionAvailabilityZones, nil, "us-east-2a,us-east-2b,us-east-2c")
	secondWithZones := secondZones("us-east-2")
	secondWithZones[config.KeySecondRegion] = "us-east-2"
	add(config.KeySecondRegionVpcCidr, secondWithZones, "10.44.0.0/19",
		"", "10.42.0.0/16", "10.42.128.0/17", "10.0.0.0/8", "10.0.0.0/22", "2001:db8::/56")
	add(config.KeySecondRegionVpcCidr, nil, "10.44.0.0/16")

	for _, d := range []struct{ domain, cert string }{
		{config.KeyGatewayDomainName, config.KeyGatewayCertificateArn},
		{config.KeyAPIDomainName, config.KeyAPICertificateArn},
	} {
		add(d.domain, map[string]any{d.cert: validCert}, "ipfs.example.org", "xn--bcher-kva.example",
			"", "*.example.org", "Gateway.Example.org", "ipfs.example.org.", "ipfs.exämple.org", "192.0.2.1",
			"localhost", "ipfs.example.org:443", "https://ipfs.example.org", "-gw.example.org", "gw.example.123",
			long(63)+"."+long(63)+"."+long(63)+"."+long(63)+".org")
		add(d.cert, map[string]any{d.domain: "ipfs.example.org"}, validCert,
			"", "arn:aws-cn:acm:us-east-1:123456789012:certificate/"+uuid,
			"arn:aws-us-gov:acm:us-east-1:123456789012:certificate/"+uuid,
			"arn:aws:acm:eu-west-1:123456789012:certificate/"+uuid,
			"arn:aws:acm:us-east-1:123456789012:certificate/"+strings.ToUpper(uuid),
			"arn:aws:acm:us-east-1:12345678901:certificate/"+uuid,
			"arn:aws:iam::123456789012:server-certificate/gateway",
			"arn:aws:acm:us-east-1:123456789012:certificate/"+uuid+"/extra",
			uuid)
	}
	website := map[string]any{config.KeyWebsiteCertificateArn: validCert}
	add(config.KeyWebsiteDomains, website, "www.example.org", " www.example.org , docs.example.net", "xn--bcher-kva.example",
		"*.example.org", "WWW.example.org", "www.example.org.", "localhost", "www.example.org:443", "https://www.example.org",
		"a.example.org,a.example.org", "192.0.2.1", long(64)+".example.org", "www.exämple.org")
	// No websites but a certificate: the certificate is what is wrong.
	rows = append(rows, trickyValue{key: config.KeyWebsiteDomains, value: "", with: website, names: config.KeyWebsiteCertificateArn})
	add(config.KeyWebsiteCertificateArn, map[string]any{config.KeyWebsiteDomains: "www.example.org"}, validCert,
		"", "arn:aws:acm:eu-west-1:123456789012:certificate/"+uuid, "arn:aws:acm:us-east-1:123456789012:certificate/"+strings.ToUpper(uuid), uuid)
	add(config.KeyCloudFrontPriceClass, nil, "PriceClass_All",
		"", "PRICE_CLASS_ALL", "priceclass_100", "PriceClass_300", "PriceClass_１００")
	add(config.KeyRestAPIUsername, nil, long(64), "Admin.User_1-x",
		"", long(65), "admin:x", "a,b", "ädmin", "admin user", "ａｄｍｉｎ")
	add(config.KeyRestAPICredentialsName, nil, "", "creds-AbC1234", "creds-AbC123/x", "s"+long(511),
		"creds-AbC123", "ipfs/creds-abcdef", "my secret", "creds:x", "s"+long(512), "ünicode",
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:x")
	add(config.KeyRunbookBaseURL, nil, "", "https://git.example.org/ops/ipfs-cluster/src/branch/main/docs/runbooks.md",
		"http://example.org/runbooks.md", "https://example.org/runbooks.md#top", "https://example.org/runbooks.md?ref=main",
		"example.org/runbooks.md", "https:///runbooks.md", "https://example.org/"+long(300), "https://example.org/run books.md")
	add(config.KeyAlarmEmail, nil, "", "ops@example.com", "a.b+alarms@sub.example.org", "ops", "ops@example", "a@b.com,c@d.com", " ops@example.com ")
	add(config.KeyBackupCopyRegion, nil, "", "eu-central-1", "us-east-1", "eu-west-1", "mars", "EU-CENTRAL-1", "cn-northwest-1", "us-gov-east-1", "eusc-de-east-1")
	add(config.KeyWebACLArn, nil, validWebACL,
		"arn:aws:wafv2:us-east-1:123456789012:regional/webacl/ipfs/"+uuid,
		"arn:aws:wafv2:eu-west-1:123456789012:global/webacl/ipfs/"+uuid,
		"arn:aws-cn:wafv2:us-east-1:123456789012:global/webacl/ipfs/"+uuid,
		"arn:aws:waf::123456789012:webacl/"+uuid, uuid,
		"arn:aws:wafv2:us-east-1:123456789012:global/webacl/ipfs/"+uuid+"/extra")

	// Pipeline settings come together: each row replaces one of the
	// pipeline test's settings.
	pipeline := func(key string, values ...any) {
		with := pipelineSettings()
		delete(with, key)
		add(key, with, values...)
	}
	const connection = "connection/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f"
	pipeline(config.KeyPipelineAccount, pipelineAccount,
		"", "11111111111", "１１１１１１１１１１１１")
	pipeline(config.KeyPipelineRegion, "us-east-1",
		"EU-WEST-1", "eu-west", "cn-north-1")
	pipeline(config.KeySourceRepository, "my.org/ipfs-cluster_aws.v2",
		"", "owner", "https://github.com/owner/repo", "owner/repo/extra", "-owner/repo", "ownér/repo")
	pipeline(config.KeySourceConnectionArn, "arn:aws:codestar-connections:eu-west-1:"+pipelineAccount+":"+connection,
		"", "arn:aws:codeconnections:eu-west-1:"+testAccount+":"+connection,
		"arn:aws:codeconnections:eu-west-1:"+pipelineAccount+":"+strings.ToUpper(connection),
		"arn:aws:codecommit:eu-west-1:"+pipelineAccount+":repo",
		"arn:aws-cn:codeconnections:cn-north-1:"+pipelineAccount+":"+connection)
	pipeline(config.KeyTestAccount, pipelineAccount,
		"", "2222", "arn:aws:iam::222222222222:root")
	pipeline(config.KeyTestRegion, "eu-central-1", "EU", "us-gov-west-1")
	pipeline(config.KeyProdAccount, "", "3333")
	pipeline(config.KeyProdRegion, "eu-west-1", "EU", "eusc-de-east-1")
	pipeline(config.KeyTestOverrides, map[string]any{config.KeyTaskMemoryMiB: 2048.0},
		"not json", "[]", `{"account": "444444444444"}`, `{"nodeCount": 2}`, `{"restApiCredentialsSecretName": "creds-AbC123"}`, `{"nodecount": 5}`)

	// Keys that are no setting: CDK's own pass (the CLI adds
	// acknowledged-issue-numbers from cdk.context.json), any other is
	// refused by name.
	add("acknowledged-issue-numbers", nil, []any{12345.0})
	add("nodecount", nil, "5")
	add("NodeCount", nil, "5")
	add("zones:account=123456789012:region=eu-west-1", nil, "eu-west-1a,eu-west-1b,eu-west-1c")
	pipeline(config.KeyProdOverrides, `{"vpcCidr": "10.0.0.0/22"}`, `{"region": "eu-west-1"}`,
		// A production stage whose tasks have no Internet route: every
		// image must still be pullable (synthesizes checks the images).
		map[string]any{config.KeyAvailabilityZones: []any{"eu-central-1a", "eu-central-1b", "eu-central-1c"}, config.KeyPublicSwarm: false})
	return rows
}

// quoted are the values a problem quotes, which may look like a key.
var quoted = regexp.MustCompile(`"[^"]*"`)

// names tells whether a validation error names key in one of its
// problems, outside the values it quotes ("<key>: ...", "<key>/<key>: ...",
// "test stage (base settings + testOverrides, ...): <key>: ...").
func names(err error, key string) bool {
	var v *config.ValidationError
	if !errors.As(err, &v) {
		return false
	}
	word := regexp.MustCompile(`(^|[^A-Za-z])` + regexp.QuoteMeta(key) + `([^A-Za-z]|$)`)
	for _, p := range v.Problems {
		if word.MatchString(quoted.ReplaceAllString(p, `""`)) {
			return true
		}
	}
	return false
}

// synthesizes builds the app from context and synthesizes it offline, as
// `cdk synth` without credentials would: no error message on any stack (the
// CLI refuses to go on with one) and no context lookup left open.
func synthesizes(context map[string]any, cfg config.Config) error {
	cdkApp, outDir, err := newApp(context)
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(outDir) }()
	err = catch(func() error {
		if _, err := app.Build(cdkApp, repoRoot); err != nil {
			return err
		}
		cdkApp.Synth(nil)
		return nil
	})
	if err != nil {
		return err
	}
	assembly, err := loadAssembly(outDir)
	if err != nil {
		return err
	}
	// The Lambda@Edge function gets a stack of its own unless the cluster
	// is in the edge's region already; pipelines hold their stages' stacks.
	// The edge's alarms get a us-east-1 stack of their own, and a backup
	// copy region a stack for its vault.
	want := 3
	if cfg.Region == edgespec.Region {
		want = 2
	}
	if cfg.BackupCopyRegion != "" {
		want++
	}
	if cfg.SecondRegion != "" {
		// Its network and cluster stacks, and the first region's check
		// of its pinset.
		want += 3
	}
	if cfg.Pipeline == nil && len(assembly) != want || len(assembly) < want {
		return fmt.Errorf("%d stacks, want %d", len(assembly), want)
	}
	missing, err := missingContext(outDir)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("context lookups need AWS credentials: %v", missing)
	}
	for id, s := range assembly {
		if errs := s.errors(); len(errs) > 0 {
			return fmt.Errorf("%s: %s", id, strings.Join(errs, "; "))
		}
	}
	// Issue 14, item 5: in every configuration (publicSwarm=false above
	// all: no route to the Internet), every image a template names is an
	// asset in the account's private ECR of its stack's region.
	problems, checked, err := publicImages(outDir)
	if err != nil {
		return err
	}
	if checked < cfg.NodeCount {
		return fmt.Errorf("%d images found for %d nodes", checked, cfg.NodeCount)
	}
	if len(problems) > 0 {
		return fmt.Errorf("images a task without a route to the Internet cannot pull: %s", strings.Join(problems, "; "))
	}
	return nil
}

func TestEveryStringSettingParsesOrSynthesizes(t *testing.T) {
	rows := trickyValues()
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.key] = true
	}
	for _, key := range config.Keys {
		assert.True(t, covered[key] != slices.Contains(nonStringKeys, key), "%s: a string setting needs rows here, a non-string one belongs in nonStringKeys", key)
	}

	// One synth per distinct context: cdk.json's own context is the
	// defaults fixture, already synthesized.
	defaultsKey, err := json.Marshal(cdkJSONContext(nil))
	require.NoError(t, err)
	synthesized := map[string]error{string(defaultsKey): nil}
	var accepted, rejected, synths int
	for _, r := range rows {
		overrides := map[string]any{r.key: r.value}
		for k, v := range r.with {
			overrides[k] = v
		}
		context := cdkJSONContext(overrides)
		t.Run(fmt.Sprintf("%s=%q", r.key, fmt.Sprint(r.value)), func(t *testing.T) {
			cdkApp := testApp(t, context)
			cfg, parseErr := config.Parse(app.ReadContext(cdkApp.Node()))
			if parseErr == nil {
				accepted++
				key, err := json.Marshal(context)
				require.NoError(t, err)
				result, done := synthesized[string(key)]
				if !done {
					synths++
					result = synthesizes(context, cfg)
					synthesized[string(key)] = result
				}
				assert.NoError(t, result, "config.Parse accepts %v, so the app must synthesize", overrides)
				t.Logf("accepted and synthesized")
				return
			}
			rejected++
			var stackErr error
			panicErr := catch(func() error {
				stack, err := app.Build(cdkApp, repoRoot)
				stackErr = err
				assert.Nil(t, stack)
				return nil
			})
			require.NoError(t, panicErr, "app.Build must return the error, not panic")
			require.Error(t, stackErr, "config.Parse rejects %v, so must app.Build", overrides)
			assert.Equal(t, parseErr.Error(), stackErr.Error(), "app.Build reports what config.Parse does")
			assert.Empty(t, childIDs(cdkApp), "nothing may reach a construct")
			key := r.names
			if key == "" {
				key = r.key
			}
			assert.True(t, names(stackErr, key), "the error names %s: %v", key, stackErr)
			t.Logf("rejected: %v", stackErr)
		})
	}
	t.Logf("%d values: %d accepted (%d synthesized apps), %d rejected", len(rows), accepted, synths, rejected)
	assert.Equal(t, len(rows), accepted+rejected)
	assert.Positive(t, accepted)
	assert.Positive(t, rejected)
}
