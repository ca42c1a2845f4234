package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// The edge construct alone (edgeApp, built in TestMain) and as the app
// composes it (defaults).

const (
	// Managed policy IDs (CloudFront documentation).
	edgeManagedCachingDisabled     = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	edgeManagedAllViewerExceptHost = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
	edgeOneYearSeconds             = float64(365 * 24 * 3600)
	gatewayComment                 = "IPFS gateway"
	apiComment                     = "IPFS Cluster REST API"
)

// distribution returns the DistributionConfig whose Comment is comment.
func (s *stackTemplate) distribution(t *testing.T, comment string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, d := range s.exactly(t, 2, "AWS::CloudFront::Distribution") {
		cfg := d.Properties["DistributionConfig"].(map[string]any)
		if cfg["Comment"] == comment {
			found = append(found, cfg)
		}
	}
	require.Len(t, found, 1, "exactly one distribution with comment %q", comment)
	return found[0]
}

// edgeBehaviors returns path pattern -> behavior, the default one under "*".
func edgeBehaviors(cfg map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{"*": cfg["DefaultCacheBehavior"].(map[string]any)}
	for _, b := range list(cfg["CacheBehaviors"]) {
		m := b.(map[string]any)
		out[m["PathPattern"].(string)] = m
	}
	return out
}

func edgeViewerRequestCount(b map[string]any) int {
	n := 0
	for _, a := range list(b["LambdaFunctionAssociations"]) {
		if a.(map[string]any)["EventType"] == "viewer-request" {
			n++
		}
	}
	return n
}

// edgeLambdaFunction returns the one Lambda function of an edge stack.
func edgeLambdaFunction(t *testing.T, s *stackTemplate) map[string]any {
	t.Helper()
	for _, fn := range s.exactly(t, 1, "AWS::Lambda::Function") {
		return fn.Properties
	}
	return nil
}

func consumers() map[string]*stackTemplate {
	return map[string]*stackTemplate{"public": edgeApp.public, "private": edgeApp.private}
}

func edgeStacks() map[string]*stackTemplate {
	return map[string]*stackTemplate{"public": edgeApp.publicEdge, "private": edgeApp.privateEdge}
}

func TestEdgeViewerRequestAssociations(t *testing.T) {
	for name, tpl := range consumers() {
		api := edgeBehaviors(tpl.distribution(t, apiComment))
		assert.Equal(t, []string{"*", edgePSAPattern}, sortedKeys(api), "%s: the API and the Pinning Service API", name)
		assert.Equal(t, 1, edgeViewerRequestCount(api["*"]), "%s: API default behavior has the auth function", name)
		assert.Equal(t, false, path(api["*"], "LambdaFunctionAssociations", 0, "IncludeBody"), "%s: auth needs no body", name)
		// The same function (version) on /psa/*, which reads the PSA's JSON bodies.
		psa := api[edgePSAPattern]
		assert.Equal(t, 1, edgeViewerRequestCount(psa), "%s: /psa/* has the auth function", name)
		assert.Equal(t, path(api["*"], "LambdaFunctionAssociations", 0, "LambdaFunctionARN"), path(psa, "LambdaFunctionAssociations", 0, "LambdaFunctionARN"), "%s: one function for both", name)
		assert.Equal(t, true, path(psa, "LambdaFunctionAssociations", 0, "IncludeBody"), "%s: the PSA's bodies are checked at the edge", name)

		gw := edgeBehaviors(tpl.distribution(t, gatewayComment))
		require.Equal(t, []string{"*", "/ipfs/*", "/ipns/*"}, sortedKeys(gw), name)
		want := map[string]int{"public": 0, "private": 1}[name]
		for path, b := range gw {
			assert.Equal(t, want, edgeViewerRequestCount(b), "%s gateway %s: viewer-request associations", name, path)
		}
	}
}

// edgePSAPattern is the API distribution's behaviour of the Pinning Service
// API.
const edgePSAPattern = nodespec.PinningServicePath + "/*"

// TestEdgePSABehavior: /psa/* is never cached, takes every method, forwards
// every viewer header (the Authorization the function set) and goes to
// the ALB's PSA listener, over HTTPS only.
func TestEdgePSABehavior(t *testing.T) {
	for name, tpl := range consumers() {
		cfg := tpl.distribution(t, apiComment)
		psa := edgeBehaviors(cfg)[edgePSAPattern]
		require.NotNil(t, psa, name)
		assert.Equal(t, edgeManagedCachingDisabled, psa["CachePolicyId"], "%s: never cached", name)
		assert.Equal(t, edgeManagedAllViewerExceptHost, psa["OriginRequestPolicyId"], "%s: Authorization reaches the origin", name)
		assert.ElementsMatch(t, []any{"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}, psa["AllowedMethods"], "%s: all methods", name)
		assert.Equal(t, "https-only", psa["ViewerProtocolPolicy"], name)
		var origin map[string]any
		for _, o := range list(cfg["Origins"]) {
			if o.(map[string]any)["Id"] == psa["TargetOriginId"] {
				origin = o.(map[string]any)
			}
		}
		require.NotNil(t, origin, "%s: the /psa/* origin", name)
		vo := tpl.resources[ref(path(origin, "VpcOriginConfig", "VpcOriginId"))]
		require.NotNil(t, vo, "%s: a VPC origin of this stack", name)
		assert.Equal(t, float64(nodespec.PinningServicePort), path(vo.Properties, "VpcOriginEndpointConfig", "HTTPPort"), "%s: the PSA listener's port", name)
	}
}

func TestEdgeFunctionLimits(t *testing.T) {
	for name, tpl := range edgeStacks() {
		fn := edgeLambdaFunction(t, tpl)
		assert.NotContains(t, fn, "Environment", "%s: Lambda@Edge forbids environment variables", name)
		assert.Equal(t, "nodejs22.x", fn["Runtime"], name)
		assert.Equal(t, "index.handler", fn["Handler"], name)
		require.IsType(t, float64(0), fn["MemorySize"], name)
		assert.LessOrEqual(t, fn["MemorySize"].(float64), 128.0, name)
		require.IsType(t, float64(0), fn["Timeout"], name)
		assert.LessOrEqual(t, fn["Timeout"].(float64), 5.0, name)
		assert.Nil(t, fn["VpcConfig"], name)
		// Trust: Lambda and Lambda@Edge.
		for _, role := range tpl.exactly(t, 1, "AWS::IAM::Role") {
			trust, _ := json.Marshal(role.Properties["AssumeRolePolicyDocument"])
			assert.Contains(t, string(trust), "edgelambda.amazonaws.com", name)
		}
	}
}

func TestEdgeFunctionSecretPermissions(t *testing.T) {
	for name, tpl := range edgeStacks() {
		var statements []any
		for _, p := range tpl.exactly(t, 1, "AWS::IAM::Policy") {
			statements = list(path(p.Properties, "PolicyDocument", "Statement"))
		}
		require.Len(t, statements, 1, "%s: one statement: read the credentials and token key secrets", name)
		st := statements[0].(map[string]any)
		assert.Equal(t, "Allow", st["Effect"], name)
		assert.Equal(t, "secretsmanager:GetSecretValue", st["Action"], "%s: GetSecretValue only", name)
		res, _ := json.Marshal(st["Resource"])
		resource := string(res)
		assert.Contains(t, resource, ":secretsmanager:"+edgespec.Region+":", "%s: the us-east-1 replica", name)
		assert.Contains(t, resource, ":secret:"+edgeTestSecretName+"-??????", "%s: exactly this secret name", name)
		assert.Contains(t, resource, ":secret:"+edgespec.PSATokenKeySecretName(edgeTestSecretName)+"-??????", "%s: and the token key's", name)
		assert.Len(t, list(st["Resource"]), 2, "%s: those two secrets", name)
		assert.Contains(t, resource, `{"Ref":"AWS::AccountId"}`, "%s: in the edge stack's own account", name)
		assert.NotContains(t, resource, "*", "%s: no wildcard", name)
	}
}

func TestEdgeFunctionBundle(t *testing.T) {
	source, err := os.ReadFile(filepath.Join(absRepoRoot(t), "lambda-edge", "basic-auth", "index.mjs"))
	require.NoError(t, err)
	psaSource, err := os.ReadFile(filepath.Join(absRepoRoot(t), "lambda-edge", "basic-auth", "psa.mjs"))
	require.NoError(t, err)
	keys := map[string]any{}
	for name, tpl := range edgeStacks() {
		fn := edgeLambdaFunction(t, tpl)
		key, _ := path(fn, "Code", "S3Key").(string)
		keys[name] = key
		require.True(t, strings.HasSuffix(key, ".zip"), "%s: asset code, got %q", name, key)
		dir := filepath.Join(edgeApp.outDir, "asset."+strings.TrimSuffix(key, ".zip"))
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, name)
		var files []string
		for _, e := range entries {
			files = append(files, e.Name())
		}
		assert.Equal(t, []string{"config.json", "index.mjs", "psa.mjs"}, files, "%s: the bundle holds the handler and its config only", name)
		psa, err := os.ReadFile(filepath.Join(dir, "psa.mjs"))
		require.NoError(t, err)
		assert.Equal(t, string(psaSource), string(psa), "%s: lambda-edge/basic-auth/psa.mjs", name)

		index, err := os.ReadFile(filepath.Join(dir, "index.mjs"))
		require.NoError(t, err)
		assert.Equal(t, string(source), string(index), "%s: the handler is lambda-edge/basic-auth/index.mjs", name)

		raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
		require.NoError(t, err)
		var cfg map[string]any
		require.NoError(t, json.Unmarshal(raw, &cfg))
		assert.Equal(t, map[string]any{
			"secretName":      edgeTestSecretName,
			"tokenSecretName": edgespec.PSATokenKeySecretName(edgeTestSecretName),
			"secretRegion":    edgespec.Region,
			"realm":           "IPFS Cluster",
		}, cfg, "%s: names only, no credentials", name)
		assert.NotRegexp(t, regexp.MustCompile(`(?i)password|username|secretstring`), string(raw), name)
	}
	// Same secret name, same bundle, same asset hash (stable staging).
	assert.Equal(t, keys["public"], keys["private"])
}

func TestEdgeCachePolicies(t *testing.T) {
	for name, tpl := range consumers() {
		gw := edgeBehaviors(tpl.distribution(t, gatewayComment))
		policy := func(path string) map[string]any {
			p, ok := tpl.resources[ref(gw[path]["CachePolicyId"])]
			require.True(t, ok, "%s %s: a cache policy of this stack", name, path)
			return p.Properties["CachePolicyConfig"].(map[string]any)
		}
		ipfs, ipns, other := policy("/ipfs/*"), policy("/ipns/*"), policy("*")

		assert.Equal(t, edgeOneYearSeconds, ipfs["MaxTTL"], "%s /ipfs/*: cached as long as CloudFront allows", name)
		assert.Equal(t, edgeOneYearSeconds, ipfs["DefaultTTL"], "%s /ipfs/*", name)
		assert.Equal(t, 0.0, ipfs["MinTTL"], "%s /ipfs/*: origin Cache-Control honoured", name)

		assert.Equal(t, 60.0, ipns["DefaultTTL"], "%s /ipns/*", name)
		assert.Equal(t, 300.0, ipns["MaxTTL"], "%s /ipns/*: capped at five minutes", name)
		assert.Equal(t, 0.0, ipns["MinTTL"], name)

		assert.Equal(t, 60.0, other["DefaultTTL"], "%s default: short unless the origin says otherwise", name)
		assert.Equal(t, 0.0, other["MinTTL"], name)

		for path, p := range map[string]map[string]any{"/ipfs/*": ipfs, "/ipns/*": ipns, "*": other} {
			key := p["ParametersInCacheKeyAndForwardedToOrigin"].(map[string]any)
			headers := key["HeadersConfig"].(map[string]any)
			assert.Equal(t, "whitelist", headers["HeaderBehavior"], "%s %s", name, path)
			assert.Equal(t, []any{"Accept"}, headers["Headers"], "%s %s: Accept selects the response format", name, path)
			assert.Equal(t, "none", key["CookiesConfig"].(map[string]any)["CookieBehavior"], "%s %s", name, path)
			qs := key["QueryStringsConfig"].(map[string]any)
			assert.Equal(t, "whitelist", qs["QueryStringBehavior"], "%s %s", name, path)
			assert.Subset(t, qs["QueryStrings"], []any{"format", "filename", "download"}, "%s %s", name, path)
			assert.LessOrEqual(t, len(qs["QueryStrings"].([]any)), 10, "CloudFront quota")
			assert.Nil(t, gw[path]["OriginRequestPolicyId"], "%s %s: nothing beyond the key is forwarded", name, path)
			assert.Equal(t, []any{"GET", "HEAD", "OPTIONS"}, gw[path]["AllowedMethods"], "%s %s: read-only", name, path)
		}

		api := edgeBehaviors(tpl.distribution(t, apiComment))["*"]
		assert.Equal(t, edgeManagedCachingDisabled, api["CachePolicyId"], "%s API: never cached", name)
		assert.Equal(t, edgeManagedAllViewerExceptHost, api["OriginRequestPolicyId"], "%s API: Authorization reaches the origin", name)
		assert.ElementsMatch(t, []any{"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}, api["AllowedMethods"], "%s API: every method", name)
	}
}

func TestEdgeHTTPSOnly(t *testing.T) {
	for name, tpl := range consumers() {
		for _, comment := range []string{gatewayComment, apiComment} {
			cfg := tpl.distribution(t, comment)
			assert.Equal(t, "http2and3", cfg["HttpVersion"], "%s %s", name, comment)
			for path, b := range edgeBehaviors(cfg) {
				assert.Contains(t, []any{"https-only", "redirect-to-https"}, b["ViewerProtocolPolicy"], "%s %s %s", name, comment, path)
				assert.NotNil(t, b["ResponseHeadersPolicyId"], "%s %s %s: security headers", name, comment, path)
			}
		}
		assert.Equal(t, "https-only", edgeBehaviors(tpl.distribution(t, apiComment))["*"]["ViewerProtocolPolicy"], name)
	}

	// Custom domains: TLS 1.2 minimum, SNI, the configured certificates.
	for comment, cert := range map[string]string{gatewayComment: edgeTestGatewayCert, apiComment: edgeTestAPICert} {
		cfg := edgeApp.private.distribution(t, comment)
		vc := cfg["ViewerCertificate"].(map[string]any)
		assert.Equal(t, "TLSv1.2_2021", vc["MinimumProtocolVersion"], comment)
		assert.Equal(t, "sni-only", vc["SslSupportMethod"], comment)
		assert.Equal(t, cert, vc["AcmCertificateArn"], comment)
		assert.Equal(t, edgeTestWebACL, cfg["WebACLId"], comment)
		assert.Equal(t, "PriceClass_100", cfg["PriceClass"], comment)
		assert.Nil(t, cfg["Logging"], comment)
	}
	// Security headers on every distribution; CORS on the public gateway only.
	for name, tpl := range consumers() {
		cors := 0
		for _, p := range tpl.exactly(t, 2, "AWS::CloudFront::ResponseHeadersPolicy") {
			cfg := p.Properties["ResponseHeadersPolicyConfig"].(map[string]any)
			sec := cfg["SecurityHeadersConfig"].(map[string]any)
			hsts := sec["StrictTransportSecurity"].(map[string]any)
			assert.GreaterOrEqual(t, hsts["AccessControlMaxAgeSec"].(float64), 31536000.0, name)
			assert.NotNil(t, sec["ContentTypeOptions"], name)
			assert.NotNil(t, sec["FrameOptions"], name)
			assert.NotNil(t, sec["ReferrerPolicy"], name)
			if cfg["CorsConfig"] != nil {
				cors++
			}
		}
		want := map[string]int{"public": 1, "private": 0}[name]
		assert.Equal(t, want, cors, "%s: CORS policies", name)
	}
}

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

// TestEdgeResponseHeadersAreEdgespecs: the distributions add exactly the
// headers edgespec lists, which the local edge adds in front of the local
// cluster: one list, two consumers.
func TestEdgeResponseHeadersAreEdgespecs(t *testing.T) {
	for name, tpl := range consumers() {
		want := map[string][]edgespec.Header{
			gatewayComment + ": security headers": edgespec.GatewayHeaders.Headers(),
			apiComment + ": security headers":     edgespec.APIHeaders.Headers(),
		}
		for _, p := range tpl.exactly(t, len(want), "AWS::CloudFront::ResponseHeadersPolicy") {
			cfg := p.Properties["ResponseHeadersPolicyConfig"].(map[string]any)
			comment, _ := cfg["Comment"].(string)
			w, ok := want[comment]
			require.True(t, ok, "%s: unexpected or repeated policy %q", name, comment)
			assert.ElementsMatch(t, w, policyHeaders(t, cfg), "%s: %s", name, comment)
			delete(want, comment)
		}
	}
}

func TestEdgeOriginsAreVpcOrigins(t *testing.T) {
	for name, tpl := range consumers() {
		var albID string
		for id, alb := range tpl.exactly(t, 1, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
			albID = id
			assert.Equal(t, "internal", alb.Properties["Scheme"], "%s: the ALB never faces the Internet", name)
		}

		ports := map[float64]string{}
		for id, vo := range tpl.exactly(t, 3, "AWS::CloudFront::VpcOrigin") {
			cfg := vo.Properties["VpcOriginEndpointConfig"].(map[string]any)
			assert.Equal(t, albID, ref(cfg["Arn"]), "%s: VPC origin on the internal ALB", name)
			assert.Equal(t, "http-only", cfg["OriginProtocolPolicy"], name)
			ports[cfg["HTTPPort"].(float64)] = id
		}

		for comment, port := range map[string]float64{gatewayComment: node.GatewayPort, apiComment: node.RestAPIPort} {
			cfg := tpl.distribution(t, comment)
			origins := list(cfg["Origins"])
			require.Len(t, origins, map[string]int{gatewayComment: 1, apiComment: 2}[comment], "%s %s: one origin (and the PSA's)", name, comment)
			var o map[string]any
			for _, candidate := range origins {
				if candidate.(map[string]any)["Id"] == path(cfg, "DefaultCacheBehavior", "TargetOriginId") {
					o = candidate.(map[string]any)
				}
			}
			require.NotNil(t, o, "%s %s: the default behavior's origin", name, comment)
			assert.Nil(t, o["CustomOriginConfig"], "%s %s: no custom (public) origin", name, comment)
			assert.Nil(t, o["S3OriginConfig"], "%s %s", name, comment)
			require.NotNil(t, o["VpcOriginConfig"], "%s %s: a VPC origin", name, comment)
			assert.Equal(t, ports[port], ref(path(o, "VpcOriginConfig", "VpcOriginId")), "%s %s: the VPC origin on port %v", name, comment, port)
		}
	}
}

// accessLogBucket checks what both log buckets share (private, encrypted,
// versioned, with noncurrent versions expiring) and returns the lifecycle
// rule.
func accessLogBucket(t *testing.T, s *stackTemplate, id string) map[string]any {
	t.Helper()
	b := s.resources[id].Properties
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		assert.Equal(t, true, path(b, "PublicAccessBlockConfiguration", k), "%s %s", id, k)
	}
	assert.NotNil(t, b["BucketEncryption"], id)
	assert.Equal(t, "Enabled", path(b, "VersioningConfiguration", "Status"), "%s: versioned", id)
	rules := list(path(b, "LifecycleConfiguration", "Rules"))
	require.Len(t, rules, 1, id)
	rule := rules[0].(map[string]any)
	assert.Equal(t, "Enabled", rule["Status"], id)
	assert.Greater(t, rule["ExpirationInDays"], 0.0, "%s: logs expire", id)
	assert.Greater(t, path(rule, "NoncurrentVersionExpiration", "NoncurrentDays"), 0.0, "%s: noncurrent versions expire", id)
	return rule
}

func TestEdgeAccessLogging(t *testing.T) {
	var bucketID string
	for id := range edgeApp.public.exactly(t, 1, "AWS::S3::Bucket") {
		bucketID = id
	}
	b := edgeApp.public.resources[bucketID].Properties
	assert.Equal(t, "BucketOwnerPreferred", path(b, "OwnershipControls", "Rules", 0, "ObjectOwnership"), "CloudFront logging needs ACLs")
	rule := accessLogBucket(t, edgeApp.public, bucketID)
	assert.EqualValues(t, edge.DefaultLogExpirationDays, rule["ExpirationInDays"])
	assert.EqualValues(t, edge.NoncurrentLogVersionDays, path(rule, "NoncurrentVersionExpiration", "NoncurrentDays"))

	policy, _ := json.Marshal(edgeApp.public.exactly(t, 1, "AWS::S3::BucketPolicy"))
	assert.Contains(t, string(policy), `"aws:SecureTransport":"false"`, "SSL enforced")
	for comment, prefix := range map[string]string{gatewayComment: "gateway/", apiComment: "api/"} {
		logging := edgeApp.public.distribution(t, comment)["Logging"].(map[string]any)
		assert.Equal(t, prefix, logging["Prefix"])
		assert.Equal(t, bucketID, ref(logging["Bucket"]))
	}
	assert.Empty(t, edgeApp.private.ofType("AWS::S3::Bucket"), "logging off: no bucket")
}

// TestLogBucketsAreVersionedAlike: in the app, the CloudFront log bucket
// keeps noncurrent versions exactly as long as the load balancer's (issue 8,
// the Control Tower finding).
func TestLogBucketsAreVersionedAlike(t *testing.T) {
	s := defaults
	buckets := s.exactly(t, 2, "AWS::S3::Bucket")
	albLogs, _ := s.withPrefix(t, "AWS::S3::Bucket", "LoadBalancerAccessLogs")
	edgeLogs, _ := s.withPrefix(t, "AWS::S3::Bucket", "EdgeAccessLogs")
	require.Contains(t, buckets, albLogs)
	require.Contains(t, buckets, edgeLogs)
	alb, cloudFront := accessLogBucket(t, s.stackTemplate, albLogs), accessLogBucket(t, s.stackTemplate, edgeLogs)
	assert.Equal(t, path(alb, "NoncurrentVersionExpiration"), path(cloudFront, "NoncurrentVersionExpiration"))
}

func TestEdgeOutputs(t *testing.T) {
	out := func(s *stackTemplate, key string) string {
		b, _ := json.Marshal(path(s.outputs, key, "Value"))
		return string(b)
	}
	assert.Equal(t, `"https://gateway.example.org"`, out(edgeApp.private, "GatewayUrl"))
	assert.Equal(t, `"https://cluster.example.org"`, out(edgeApp.private, "ApiUrl"))
	for _, key := range []string{"GatewayUrl", "ApiUrl"} {
		assert.Regexp(t, `^\{"Fn::Join":\["",\["https://",\{"Fn::GetAtt":\["[A-Za-z0-9]+","DomainName"\]\}\]\]\}$`, out(edgeApp.public, key))
	}
}

func TestEdgeCdkNag(t *testing.T) {
	require.Len(t, edgeApp.all, 4)
	regions := map[string]bool{}
	for _, s := range edgeApp.all {
		regions[s.region] = true
		assert.Empty(t, s.nagFindings(), s.artifactID)
	}
	assert.Equal(t, map[string]bool{"eu-west-1": true, edgespec.Region: true}, regions, "the us-east-1 edge stacks are checked too")
}

func TestEdgePropsValidation(t *testing.T) {
	cdkApp := testApp(t, nil)
	stack := awscdk.NewStack(cdkApp, jsii.String("EdgeValidation"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("eu-west-1")}})
	alb := edgeTestALB(stack)

	publicStack := awscdk.NewStack(cdkApp, jsii.String("EdgeValidationPublicAlb"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("eu-west-1")}})
	publicVpc := awsec2.NewVpc(publicStack, jsii.String("Vpc"), &awsec2.VpcProps{
		AvailabilityZones: jsii.Strings("eu-west-1a", "eu-west-1b"), NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC}},
	})
	publicALB := awselasticloadbalancingv2.NewApplicationLoadBalancer(publicStack, jsii.String("Alb"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc: publicVpc, InternetFacing: jsii.Bool(true),
	})

	valid := func() *edge.Props {
		return &edge.Props{LoadBalancer: alb, CredentialsSecretName: edgeTestSecretName}
	}
	cases := []struct {
		name   string
		mutate func(p *edge.Props)
		want   []string
	}{
		{"no load balancer", func(p *edge.Props) { p.LoadBalancer = nil }, []string{"LoadBalancer", "required"}},
		{"internet-facing ALB", func(p *edge.Props) { p.LoadBalancer = publicALB }, []string{"LoadBalancer", "internal"}},
		{"no secret name", func(p *edge.Props) { p.CredentialsSecretName = "" }, []string{"CredentialsSecretName", "required"}},
		{"token secret name", func(p *edge.Props) { p.CredentialsSecretName = *awscdk.Aws_STACK_NAME() }, []string{"CredentialsSecretName", "token"}},
		{"bad secret name", func(p *edge.Props) { p.CredentialsSecretName = "rest api!" }, []string{"CredentialsSecretName", "not a Secrets Manager name"}},
		{"secret name like an ARN suffix", func(p *edge.Props) { p.CredentialsSecretName = "creds-AbC123" }, []string{"CredentialsSecretName", "six characters"}},
		{"gateway port too big", func(p *edge.Props) { p.GatewayPort = 70000 }, []string{"GatewayPort", "1-65535"}},
		{"negative API port", func(p *edge.Props) { p.APIPort = -1 }, []string{"APIPort", "1-65535"}},
		{"same ports", func(p *edge.Props) { p.GatewayPort, p.APIPort = 9094, 9094 }, []string{"APIPort", "differ"}},
		{"same port as default", func(p *edge.Props) { p.APIPort = 8080 }, []string{"APIPort", "differ"}},
		{"PSA port of the API", func(p *edge.Props) { p.PSAPort = 9094 }, []string{"PSAPort", "differ"}},
		{"PSA port too big", func(p *edge.Props) { p.PSAPort = 65536 }, []string{"PSAPort", "1-65535"}},
		{"domain without names", func(p *edge.Props) { p.GatewayDomain = &edge.Domain{CertificateArn: edgeTestGatewayCert} }, []string{"GatewayDomain.Names", "at least one"}},
		{"domain without certificate", func(p *edge.Props) { p.APIDomain = &edge.Domain{Names: []string{"api.example.org"}} }, []string{"APIDomain.CertificateArn", "required"}},
		{"certificate outside us-east-1", func(p *edge.Props) {
			p.APIDomain = &edge.Domain{Names: []string{"api.example.org"}, CertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}
		}, []string{"APIDomain.CertificateArn", "us-east-1"}},
		{"bad domain name", func(p *edge.Props) {
			p.GatewayDomain = &edge.Domain{Names: []string{"Not A Host"}, CertificateArn: edgeTestGatewayCert}
		}, []string{"GatewayDomain.Names", "not a fully qualified domain name"}},
		{"wildcard first", func(p *edge.Props) {
			p.GatewayDomain = &edge.Domain{Names: []string{"*.example.org"}, CertificateArn: edgeTestGatewayCert}
		}, []string{"GatewayDomain.Names", "wildcard"}},
		{"duplicate domain name", func(p *edge.Props) {
			p.GatewayDomain = &edge.Domain{Names: []string{"g.example.org", "g.example.org"}, CertificateArn: edgeTestGatewayCert}
		}, []string{"GatewayDomain.Names", "twice"}},
		{"bad price class", func(p *edge.Props) { p.PriceClass = "PRICE_CLASS_1" }, []string{"PriceClass", "PRICE_CLASS_100"}},
		{"regional web ACL", func(p *edge.Props) {
			p.WebACLArn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/abcdef01-2345-6789-abcd-ef0123456789"
		}, []string{"WebACLArn", "CLOUDFRONT"}},
		{"log bucket with logging off", func(p *edge.Props) {
			p.DisableLogging = true
			p.LogBucket = awss3.NewBucket(stack, jsii.String("SomeLogBucket"), nil)
		}, []string{"LogBucket", "DisableLogging"}},
		{"destroying a log bucket it does not own", func(p *edge.Props) {
			p.DestroyLogs = true
			p.LogBucket = awss3.NewBucket(stack, jsii.String("OwnLogBucket"), nil)
		}, []string{"DestroyLogs", "LogBucket"}},
		{"negative log expiration", func(p *edge.Props) { p.LogExpirationDays = -3 }, []string{"LogExpirationDays", "positive"}},
		{"log expiration with logging off", func(p *edge.Props) { p.LogExpirationDays = 30; p.DisableLogging = true }, []string{"LogExpirationDays", "applies only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			tc.mutate(p)
			e, err := edge.NewEdge(stack, "Invalid", p)
			require.Error(t, err)
			assert.Nil(t, e)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Nil(t, stack.Node().TryFindChild(jsii.String("Invalid")), "nothing is created on invalid props")
		})
	}

	t.Run("every problem at once", func(t *testing.T) {
		err := (&edge.Props{GatewayPort: -1, PriceClass: "x"}).Validate()
		require.Error(t, err)
		for _, field := range []string{"LoadBalancer", "CredentialsSecretName", "GatewayPort", "PriceClass"} {
			assert.Contains(t, err.Error(), "edge.Props."+field)
		}
	})
	t.Run("nil props", func(t *testing.T) {
		_, err := edge.NewEdge(stack, "Nil", nil)
		assert.ErrorContains(t, err, "required")
	})
	t.Run("defaults are valid", func(t *testing.T) {
		assert.NoError(t, valid().Validate())
	})
	t.Run("stack without a region", func(t *testing.T) {
		agnostic := awscdk.NewStack(cdkApp, jsii.String("EdgeValidationAgnostic"), nil)
		_, err := edge.NewEdge(agnostic, "Edge", &edge.Props{LoadBalancer: alb, CredentialsSecretName: edgeTestSecretName})
		assert.ErrorContains(t, err, "explicit region")
	})
}

// TestOnlyCloudFrontReachesTheLoadBalancer: in the app, the ALB has no
// public address and both distributions reach it through VPC origins.
func TestOnlyCloudFrontReachesTheLoadBalancer(t *testing.T) {
	s := defaults
	var albID string
	for id := range s.exactly(t, 1, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
		albID = id
	}
	var ports []float64
	for _, o := range s.exactly(t, 3, "AWS::CloudFront::VpcOrigin") {
		assert.Equal(t, albID, ref(path(o.Properties, "VpcOriginEndpointConfig", "Arn")))
		ports = append(ports, path(o.Properties, "VpcOriginEndpointConfig", "HTTPPort").(float64))
	}
	assert.ElementsMatch(t, []float64{node.GatewayPort, node.RestAPIPort, nodespec.PinningServicePort}, ports)
	for id, d := range s.exactly(t, 2, "AWS::CloudFront::Distribution") {
		origins := list(path(d.Properties, "DistributionConfig", "Origins"))
		require.NotEmpty(t, origins, id)
		for _, o := range origins {
			assert.NotNil(t, path(o, "VpcOriginConfig"), "%s: the origin is a VPC origin", id)
			assert.Nil(t, path(o, "CustomOriginConfig"), "%s: no public custom origin", id)
		}
	}
	assert.Contains(t, s.outputs, "GatewayUrl")
	assert.Contains(t, s.outputs, "RestApiUrl")
}
