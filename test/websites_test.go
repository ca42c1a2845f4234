package test

import (
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

const (
	websitesGatewayCert = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"
	websitesSiteCert    = "arn:aws:acm:us-east-1:123456789012:certificate/1a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"
)

var websitesSynth *synthesized

// withWebsites is cdk.json with a subdomain gateway and two DNSLink
// websites, synthesized on first use (one jsii kernel: never in parallel).
func withWebsites(t *testing.T) *synthesized {
	t.Helper()
	if websitesSynth == nil {
		s, err := synth(map[string]any{
			config.KeyGatewayDomainName:     "gw.example.org",
			config.KeyGatewayCertificateArn: websitesGatewayCert,
			config.KeyGatewaySubdomains:     "true",
			config.KeyWebsiteDomains:        "www.example.org,docs.example.net",
			config.KeyWebsiteCertificateArn: websitesSiteCert,
		})
		require.NoError(t, err)
		websitesSynth = s
	}
	return websitesSynth
}

// distributionByComment returns the logical ID and DistributionConfig.
func distributionByComment(t *testing.T, s *synthesized, comment string) (string, map[string]any) {
	t.Helper()
	for id, r := range s.ofType("AWS::CloudFront::Distribution") {
		cfg, _ := r.Properties["DistributionConfig"].(map[string]any)
		if cfg["Comment"] == comment {
			return id, cfg
		}
	}
	t.Fatalf("no distribution %q", comment)
	return "", nil
}

// behaviors returns a distribution's behaviours by path ("*" the default).
func behaviors(cfg map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{"*": cfg["DefaultCacheBehavior"].(map[string]any)}
	for _, b := range list(cfg["CacheBehaviors"]) {
		m := b.(map[string]any)
		out[m["PathPattern"].(string)] = m
	}
	return out
}

// cachePolicy returns the CachePolicyConfig a behaviour refers to.
func cachePolicy(t *testing.T, s *synthesized, behavior map[string]any) map[string]any {
	t.Helper()
	r, ok := s.resources[ref(behavior["CachePolicyId"])]
	require.True(t, ok, "cache policy %v", behavior["CachePolicyId"])
	return r.Properties["CachePolicyConfig"].(map[string]any)
}

func keyHeaders(policy map[string]any) []string {
	var out []string
	for _, h := range list(path(policy, "ParametersInCacheKeyAndForwardedToOrigin", "HeadersConfig", "Headers")) {
		out = append(out, h.(string))
	}
	sort.Strings(out)
	return out
}

func TestDefaultGatewayIsAPathGatewayWithoutHost(t *testing.T) {
	assert.Len(t, defaults.ofType("AWS::CloudFront::Distribution"), 2, "gateway and API only")
	assert.Empty(t, defaults.ofType("AWS::CloudFront::Function"))
	_, gw := distributionByComment(t, defaults, "IPFS gateway")
	assert.Nil(t, gw["Aliases"])
	for p, b := range behaviors(gw) {
		assert.Equal(t, []string{"Accept"}, keyHeaders(cachePolicy(t, defaults, b)), "%s: Host stays out of the key (and away from kubo)", p)
		assert.Nil(t, b["FunctionAssociations"], p)
		assert.Nil(t, b["OriginRequestPolicyId"], p)
	}
	immutable := cachePolicy(t, defaults, behaviors(gw)["/ipfs/*"])
	assert.EqualValues(t, 365*24*3600, immutable["DefaultTTL"], "/ipfs/* keeps its one-year default")
	for _, key := range []string{outputs.GatewayDistributionDomainName, outputs.WebsitesDistributionDomainName} {
		assert.NotContains(t, defaults.outputs, key)
	}
	for _, s := range []*synthesized{defaults, privateSwarm} {
		for id, env := range kuboEnvironments(t, s) {
			for _, name := range []string{"KUBO_SUBDOMAIN_GATEWAY_HOSTS", "KUBO_DNSLINK_HOSTS", "KUBO_PUBLIC_GATEWAY_HOSTS"} {
				assert.NotContains(t, env, name, id)
			}
		}
	}
}

func TestSubdomainGatewayServesTheWildcardsAndKeysOnHost(t *testing.T) {
	s := withWebsites(t)
	_, gw := distributionByComment(t, s, "IPFS gateway")
	assert.Equal(t, []any{"gw.example.org", "*.ipfs.gw.example.org", "*.ipns.gw.example.org"}, gw["Aliases"],
		"the domain first (the URL), then one wildcard per namespace")
	assert.Equal(t, websitesGatewayCert, path(gw, "ViewerCertificate", "AcmCertificateArn"))
	assert.Equal(t, "TLSv1.2_2021", path(gw, "ViewerCertificate", "MinimumProtocolVersion"))
	assert.Equal(t, "sni-only", path(gw, "ViewerCertificate", "SslSupportMethod"))
	assert.Equal(t, "https://gw.example.org", s.outputs[outputs.GatewayURL].(map[string]any)["Value"])

	fns := s.ofType("AWS::CloudFront::Function")
	require.Len(t, fns, 1)
	var fnID string
	for id, fn := range fns {
		fnID = id
		code := fn.Properties["FunctionCode"].(string)
		assert.Contains(t, code, `var gatewayDomain = "gw.example.org";`, "the function knows the domain")
		assert.NotContains(t, code, `"gateway.example"`)
		assert.Equal(t, "cloudfront-js-2.0", path(fn.Properties, "FunctionConfig", "Runtime"))
	}

	headers := ""
	for p, b := range behaviors(gw) {
		policy := cachePolicy(t, s, b)
		// A header in the key is forwarded: kubo sees the viewer's Host.
		assert.Equal(t, []string{"Accept", "Host"}, keyHeaders(policy), "%s: Host in the cache key", p)
		assert.Nil(t, b["OriginRequestPolicyId"], "%s: the key forwards what kubo needs, nothing else", p)
		assert.Equal(t, "redirect-to-https", b["ViewerProtocolPolicy"], p)
		assocs := list(b["FunctionAssociations"])
		require.Len(t, assocs, 1, p)
		assert.Equal(t, "viewer-response", path(assocs[0], "EventType"), p)
		assert.Equal(t, fnID, ref(path(assocs[0], "FunctionARN")), p)
		assert.Nil(t, b["LambdaFunctionAssociations"], "%s: a public gateway", p)
		if headers == "" {
			headers = ref(b["ResponseHeadersPolicyId"])
		}
		assert.Equal(t, headers, ref(b["ResponseHeadersPolicyId"]), "%s: the same security headers", p)
	}
	require.NotEmpty(t, headers)
	assert.NotNil(t, path(s.resources[headers].Properties, "ResponseHeadersPolicyConfig", "SecurityHeadersConfig", "StrictTransportSecurity"))

	// Immutable content on the subdomains: kubo's own Cache-Control
	// (max-age=29030400, immutable) is honoured up to a year on every
	// behaviour that serves <cid>.ipfs.<domain>/...
	for _, p := range []string{"*", "/ipfs/*"} {
		policy := cachePolicy(t, s, behaviors(gw)[p])
		assert.EqualValues(t, 365*24*3600, policy["MaxTTL"], p)
		assert.EqualValues(t, 60, policy["DefaultTTL"], "%s: a response without Cache-Control may be mutable here", p)
	}
	assert.EqualValues(t, 300, cachePolicy(t, s, behaviors(gw)["/ipns/*"])["MaxTTL"])

	id, _ := distributionByComment(t, s, "IPFS gateway")
	assert.Equal(t, id, ref(s.outputs[outputs.GatewayDistributionDomainName].(map[string]any)["Value"]))
}

func TestWebsitesHaveADistributionOfTheirOwn(t *testing.T) {
	s := withWebsites(t)
	id, web := distributionByComment(t, s, "IPFS DNSLink websites")
	_, gw := distributionByComment(t, s, "IPFS gateway")
	assert.Equal(t, []any{"www.example.org", "docs.example.net"}, web["Aliases"])
	assert.Equal(t, websitesSiteCert, path(web, "ViewerCertificate", "AcmCertificateArn"))
	assert.Equal(t, "TLSv1.2_2021", path(web, "ViewerCertificate", "MinimumProtocolVersion"))
	assert.Nil(t, web["CacheBehaviors"], "every path of a site is mutable: one behaviour")
	b := behaviors(web)["*"]
	policy := cachePolicy(t, s, b)
	assert.Equal(t, []string{"Accept", "Host"}, keyHeaders(policy), "Host selects the site")
	assert.EqualValues(t, 60, policy["DefaultTTL"])
	assert.EqualValues(t, 300, policy["MaxTTL"], "DNSLink sites change with their TXT record: capped like /ipns/")
	assert.Equal(t, "redirect-to-https", b["ViewerProtocolPolicy"])
	assert.Equal(t, ref(behaviors(gw)["*"]["ResponseHeadersPolicyId"]), ref(b["ResponseHeadersPolicyId"]), "the gateway's security headers")
	assert.Nil(t, b["FunctionAssociations"])
	assert.Nil(t, b["LambdaFunctionAssociations"])
	// The gateway's VPC origin on the ALB's gateway listener: one origin
	// resource for both.
	gwOrigin := path(gw, "Origins", 0, "VpcOriginConfig", "VpcOriginId")
	assert.Equal(t, ref(gwOrigin), ref(path(web, "Origins", 0, "VpcOriginConfig", "VpcOriginId")))
	assert.Len(t, s.ofType("AWS::CloudFront::VpcOrigin"), len(defaults.ofType("AWS::CloudFront::VpcOrigin")))
	assert.Equal(t, "websites/", path(web, "Logging", "Prefix"))
	assert.Equal(t, id, ref(s.outputs[outputs.WebsitesDistributionDomainName].(map[string]any)["Value"]))
}

func TestKuboGetsTheGatewayHosts(t *testing.T) {
	s := withWebsites(t)
	envs := kuboEnvironments(t, s)
	require.Len(t, envs, s.config.NodeCount)
	for id, env := range envs {
		assert.Equal(t, "gw.example.org", env["KUBO_SUBDOMAIN_GATEWAY_HOSTS"], id)
		assert.Equal(t, "www.example.org,docs.example.net", env["KUBO_DNSLINK_HOSTS"], id)
		assert.NotContains(t, env, "KUBO_DNS_RESOLVERS", "%s: a public swarm keeps kubo's resolvers", id)
	}
	for id, env := range kuboEnvironments(t, privateSwarm) {
		assert.Equal(t, ".=", env["KUBO_DNS_RESOLVERS"], "%s: no Internet route: the VPC resolver for every name", id)
	}
}

func TestWebsitesHaveNoCdkNagFindings(t *testing.T) {
	s := withWebsites(t)
	for _, child := range *s.cdkApp.Node().Children() {
		if !*awscdk.Stack_IsStack(child) {
			continue
		}
		annotations := assertions.Annotations_FromStack(child.(awscdk.Stack))
		match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
		for _, found := range []*[]*cxapi.SynthesisMessage{annotations.FindError(jsii.String("*"), match), annotations.FindWarning(jsii.String("*"), match)} {
			for _, m := range *found {
				t.Errorf("cdk-nag at %s: %v", *m.Id, m.Entry.Data)
			}
		}
	}
}

// kuboEnvironments returns each task definition's kubo environment.
func kuboEnvironments(t *testing.T, s *synthesized) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for id, task := range s.ofType("AWS::ECS::TaskDefinition") {
		for _, def := range list(task.Properties["ContainerDefinitions"]) {
			if path(def, "Name") != node.KuboContainerName {
				continue
			}
			env := map[string]string{}
			for _, kv := range list(path(def, "Environment")) {
				v, _ := path(kv, "Value").(string)
				env[path(kv, "Name").(string)] = v
			}
			out[id] = env
		}
	}
	return out
}

func TestEdgePropsRefuseWebsiteMistakes(t *testing.T) {
	err := (&edge.Props{
		CredentialsSecretName: "IpfsCluster/rest-api-credentials",
		PrivateGateway:        true,
		GatewaySubdomains:     true,
		GatewayDomain:         &edge.Domain{Names: []string{"gw.example.org", "x.example.org"}, CertificateArn: websitesGatewayCert},
		Websites:              &edge.Domain{Names: []string{"a.ipfs.gw.example.org", "*.example.net"}},
	}).Validate()
	require.Error(t, err)
	for _, want := range []string{
		"edge.Props.GatewaySubdomains: needs GatewayDomain with exactly one name",
		"edge.Props.PrivateGateway: a private gateway (Basic auth) cannot serve subdomains or websites",
		`edge.Props.Websites.Names: "*.example.net" is a wildcard`,
		"edge.Props.Websites.CertificateArn: required",
	} {
		assert.Contains(t, err.Error(), want)
	}
	err = (&edge.Props{
		CredentialsSecretName: "IpfsCluster/rest-api-credentials",
		GatewaySubdomains:     true,
		GatewayDomain:         &edge.Domain{Names: []string{"gw.example.org"}, CertificateArn: websitesGatewayCert},
		Websites:              &edge.Domain{Names: []string{"a.ipfs.gw.example.org"}, CertificateArn: websitesSiteCert},
	}).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `edge.Props.Websites.Names: "a.ipfs.gw.example.org" is already served by the gateway or the API as "*.ipfs.gw.example.org"`)
	assert.NotContains(t, err.Error(), "Websites.CertificateArn")
}
