package test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
)

// policyHeaders reads a synthesized response headers policy back into the
// headers CloudFront adds, in edgespec's form.
func policyHeaders(t *testing.T, cfg map[string]any) []edgespec.Header {
	t.Helper()
	sec, _ := cfg["SecurityHeadersConfig"].(map[string]any)
	require.NotNil(t, sec, "SecurityHeadersConfig")
	b := func(m map[string]any, k string) bool { v, _ := m[k].(bool); return v }
	var out []edgespec.Header
	if h, ok := sec["StrictTransportSecurity"].(map[string]any); ok {
		v := fmt.Sprintf("max-age=%d", int(h["AccessControlMaxAgeSec"].(float64)))
		if b(h, "IncludeSubdomains") {
			v += "; includeSubDomains"
		}
		if b(h, "Preload") {
			v += "; preload"
		}
		out = append(out, edgespec.Header{Name: "Strict-Transport-Security", Value: v, Override: b(h, "Override")})
	}
	if h, ok := sec["ContentTypeOptions"].(map[string]any); ok {
		out = append(out, edgespec.Header{Name: "X-Content-Type-Options", Value: "nosniff", Override: b(h, "Override")})
	}
	if h, ok := sec["FrameOptions"].(map[string]any); ok {
		out = append(out, edgespec.Header{Name: "X-Frame-Options", Value: h["FrameOption"].(string), Override: b(h, "Override")})
	}
	if h, ok := sec["ReferrerPolicy"].(map[string]any); ok {
		out = append(out, edgespec.Header{Name: "Referrer-Policy", Value: h["ReferrerPolicy"].(string), Override: b(h, "Override")})
	}
	if h, ok := sec["ContentSecurityPolicy"].(map[string]any); ok {
		out = append(out, edgespec.Header{Name: "Content-Security-Policy", Value: h["ContentSecurityPolicy"].(string), Override: b(h, "Override")})
	}
	require.Nil(t, sec["XSSProtection"], "a security header edgespec does not list")
	if custom, ok := cfg["CustomHeadersConfig"].(map[string]any); ok {
		for _, item := range custom["Items"].([]any) {
			h := item.(map[string]any)
			out = append(out, edgespec.Header{Name: h["Header"].(string), Value: h["Value"].(string), Override: b(h, "Override")})
		}
	}
	return out
}

// The distributions add exactly the headers edgespec lists, which the local
// edge adds in front of the local cluster: one list, two consumers.
func TestEdgeResponseHeadersAreEdgespecs(t *testing.T) {
	f := edgeFixtureGet(t)
	want := map[string][]edgespec.Header{
		"IPFS gateway: security headers":          edgespec.GatewayHeaders.Headers(),
		"IPFS Cluster REST API: security headers": edgespec.APIHeaders.Headers(),
	}
	for name, tpl := range map[string]edgeTemplate{"public": f.public, "private": f.private} {
		seen := 0
		for _, p := range tpl.resources("AWS::CloudFront::ResponseHeadersPolicy") {
			cfg := p["ResponseHeadersPolicyConfig"].(map[string]any)
			comment, _ := cfg["Comment"].(string)
			w, ok := want[comment]
			require.True(t, ok, "%s: unexpected policy %q", name, comment)
			assert.ElementsMatch(t, w, policyHeaders(t, cfg), "%s: %s", name, comment)
			seen++
		}
		assert.Equal(t, len(want), seen, name)
	}
}
