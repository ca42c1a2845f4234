package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testGatewayCert = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"
	testWebsiteCert = "arn:aws:acm:us-east-1:123456789012:certificate/1a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"
)

func websites(extra map[string]any) map[string]any {
	raw := map[string]any{
		KeyGatewayDomainName:     "gw.example.org",
		KeyGatewayCertificateArn: testGatewayCert,
		KeyGatewaySubdomains:     "true",
		KeyWebsiteDomains:        "www.example.org, docs.example.net",
		KeyWebsiteCertificateArn: testWebsiteCert,
	}
	for k, v := range extra {
		raw[k] = v
	}
	return raw
}

func TestWebsitesReachTheNodesAsKuboHosts(t *testing.T) {
	cfg, err := Parse(websites(nil))
	require.NoError(t, err)
	assert.True(t, cfg.GatewaySubdomains)
	assert.Equal(t, []string{"www.example.org", "docs.example.net"}, cfg.WebsiteDomains)
	s := cfg.NodeSettings(1)
	assert.Equal(t, []string{"gw.example.org"}, s.SubdomainGatewayHosts)
	assert.Equal(t, []string{"www.example.org", "docs.example.net"}, s.DNSLinkHosts)
	assert.Nil(t, s.DNSResolvers, "a public swarm keeps kubo's own resolvers")
	kubo, _ := s.Environment()
	assert.Equal(t, "gw.example.org", kubo["KUBO_SUBDOMAIN_GATEWAY_HOSTS"])
	assert.Equal(t, "www.example.org,docs.example.net", kubo["KUBO_DNSLINK_HOSTS"])

	def, err := Parse(nil)
	require.NoError(t, err)
	kubo, _ = def.NodeSettings(0).Environment()
	for _, name := range []string{"KUBO_SUBDOMAIN_GATEWAY_HOSTS", "KUBO_DNSLINK_HOSTS", "KUBO_DNS_RESOLVERS"} {
		assert.NotContains(t, kubo, name, "the default configuration leaves kubo's gateway hosts and resolvers alone")
	}
}

func TestPrivateSwarmResolvesThroughTheSystemResolver(t *testing.T) {
	cfg, err := Parse(map[string]any{KeyPublicSwarm: false})
	require.NoError(t, err)
	kubo, _ := cfg.NodeSettings(0).Environment()
	assert.Equal(t, ".=", kubo["KUBO_DNS_RESOLVERS"], "no Internet route: the VPC resolver, never a DoH server on the Internet")
}

func TestWebsiteSettingsAreRejectedWithTheirKeys(t *testing.T) {
	cases := []struct {
		name     string
		raw      map[string]any
		messages []string
	}{
		{"subdomains without a domain", map[string]any{KeyGatewaySubdomains: true},
			[]string{"gatewaySubdomains: true needs gatewayDomainName and gatewayCertificateArn", "*.ipfs.<domain> and *.ipns.<domain>"}},
		{"subdomains not a bool", websites(map[string]any{KeyGatewaySubdomains: "yes"}), []string{`gatewaySubdomains: must be true or false, got "yes"`}},
		{"websites without a certificate", websites(map[string]any{KeyWebsiteCertificateArn: ""}),
			[]string{"websiteCertificateArn: required with websiteDomains"}},
		{"certificate without websites", map[string]any{KeyWebsiteCertificateArn: testWebsiteCert},
			[]string{"websiteCertificateArn: set without websiteDomains"}},
		{"certificate outside us-east-1", websites(map[string]any{KeyWebsiteCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"}),
			[]string{"websiteCertificateArn:", "is not an ACM certificate ARN in us-east-1"}},
		{"wildcard website", websites(map[string]any{KeyWebsiteDomains: "*.example.net"}),
			[]string{`websiteDomains: "*.example.net" is a wildcard; allowed: plain host names`}},
		{"upper-case website", websites(map[string]any{KeyWebsiteDomains: "WWW.example.org"}),
			[]string{`websiteDomains: "WWW.example.org" has the label "WWW"`}},
		{"website twice", websites(map[string]any{KeyWebsiteDomains: "a.example.org,a.example.org"}),
			[]string{`websiteDomains: "a.example.org" is listed twice`}},
		{"website under the subdomain gateway", websites(map[string]any{KeyWebsiteDomains: "site.ipfs.gw.example.org"}),
			[]string{`"site.ipfs.gw.example.org" is already served by the gateway or the API as "*.ipfs.gw.example.org"`}},
		{"website is the gateway", websites(map[string]any{KeyWebsiteDomains: "gw.example.org"}),
			[]string{`"gw.example.org" is already served by the gateway or the API as "gw.example.org"`}},
		{"website is the API", websites(map[string]any{KeyAPIDomainName: "api.example.org", KeyAPICertificateArn: testGatewayCert, KeyWebsiteDomains: "api.example.org"}),
			[]string{`"api.example.org" is already served`}},
		{"private gateway with subdomains", websites(map[string]any{KeyPrivateGateway: true, KeyWebsiteDomains: nil, KeyWebsiteCertificateArn: nil}),
			[]string{"privateGateway/gatewaySubdomains/websiteDomains: a private gateway (Basic auth) cannot serve subdomains or websites", "its own origin"}},
		{"private gateway with websites", websites(map[string]any{KeyPrivateGateway: true, KeyGatewaySubdomains: false}),
			[]string{"privateGateway/gatewaySubdomains/websiteDomains: a private gateway"}},
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
	// A deeper name under the wildcard is not the wildcard's (CloudFront
	// matches one label), and a website on the gateway's parent domain is
	// fine.
	_, err := Parse(websites(map[string]any{KeyWebsiteDomains: "a.b.ipfs.gw.example.org,example.org"}))
	assert.NoError(t, err)
}

func TestTooManyWebsitesForOneDistribution(t *testing.T) {
	var names []any
	for i := range 101 {
		names = append(names, "s"+string(rune('a'+i%26))+string(rune('a'+i/26))+".example.org")
	}
	_, err := Parse(websites(map[string]any{KeyWebsiteDomains: names}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "websiteDomains: 101 names; allowed: at most 100")
}

// The local cluster has no CloudFront: websites need no certificate there,
// every other rule still holds.
func TestParseLocalNeedsNoWebsiteCertificate(t *testing.T) {
	raw := map[string]any{KeyWebsiteDomains: "site-a.localhost,site-b.localhost"}
	_, err := Parse(raw)
	require.ErrorContains(t, err, "websiteCertificateArn: required with websiteDomains")
	c, err := ParseLocal(raw)
	require.NoError(t, err)
	assert.Equal(t, []string{"site-a.localhost", "site-b.localhost"}, c.NodeSettings(0).DNSLinkHosts)

	_, err = ParseLocal(map[string]any{KeyWebsiteDomains: "*.example.net"})
	assert.ErrorContains(t, err, "is a wildcard")
	_, err = ParseLocal(map[string]any{KeyWebsiteDomains: "a.localhost", KeyWebsiteCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"})
	assert.ErrorContains(t, err, "is not an ACM certificate ARN in us-east-1")
}
