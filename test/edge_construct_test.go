package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge"
)

// The edge tests build one small app of their own, once per test binary
// (sync.Once, so they share the jsii kernel with any TestMain of the
// package): two consuming stacks in eu-west-1 without an account, one with
// a public gateway and default settings, one with a private gateway, custom
// domains, a web ACL and logging off. Each gets its us-east-1 edge stack.

const (
	edgeTestSecretName = "ipfs-cluster/rest-api-credentials"
	// Managed policy IDs (CloudFront documentation).
	edgeManagedCachingDisabled             = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	edgeManagedAllViewerExceptHost         = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
	edgeTestGatewayCert                    = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
	edgeTestAPICert                        = "arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000"
	edgeTestWebACL                         = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/ipfs/abcdef01-2345-6789-abcd-ef0123456789"
	edgeOneYearSeconds             float64 = 365 * 24 * 3600
)

type edgeFixture struct {
	outDir string
	// Templates of the consuming stacks and of their us-east-1 edge stacks.
	public, private         edgeTemplate
	publicEdge, privateEdge edgeTemplate
	stacks                  []awscdk.Stack
	err                     error
}

type edgeTemplate map[string]any

var (
	edgeOnce sync.Once
	edgeFix  *edgeFixture
)

func edgeFixtureGet(t *testing.T) *edgeFixture {
	t.Helper()
	edgeOnce.Do(func() { edgeFix = buildEdgeFixture() })
	require.NoError(t, edgeFix.err, "building the edge test app")
	return edgeFix
}

// edgeTestALB is the consuming side: a VPC and an internal ALB with one
// HTTP listener per service, as the load balancer construct builds it.
func edgeTestALB(stack awscdk.Stack) awselasticloadbalancingv2.IApplicationLoadBalancer {
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		AvailabilityZones: jsii.Strings("eu-west-1a", "eu-west-1b", "eu-west-1c"),
		NatGateways:       jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("isolated"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(24)},
		},
	})
	sg := awsec2.NewSecurityGroup(stack, jsii.String("AlbSg"), &awsec2.SecurityGroupProps{Vpc: vpc, AllowAllOutbound: jsii.Bool(false)})
	alb := awselasticloadbalancingv2.NewApplicationLoadBalancer(stack, jsii.String("Alb"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc:            vpc,
		InternetFacing: jsii.Bool(false),
		SecurityGroup:  sg,
		VpcSubnets:     &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
	})
	for name, port := range map[string]float64{"Gateway": 8080, "Api": 9094} {
		alb.AddListener(jsii.String(name+"Listener"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:          jsii.Number(port),
			Protocol:      awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			Open:          jsii.Bool(false),
			DefaultAction: awselasticloadbalancingv2.ListenerAction_FixedResponse(jsii.Number(404), nil),
		})
		sg.AddIngressRule(awsec2.Peer_Ipv4(vpc.VpcCidrBlock()), awsec2.Port_Tcp(jsii.Number(port)), jsii.String("from the VPC origin"), nil)
	}
	// The fixture's own VPC and ALB are not under test: the load balancer
	// and network constructs have their own nag tests.
	fixture := &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-VPC7"), Reason: jsii.String("test fixture, not the edge under test")},
		{Id: jsii.String("AwsSolutions-ELB2"), Reason: jsii.String("test fixture, not the edge under test")},
		{Id: jsii.String("AwsSolutions-EC23"), Reason: jsii.String("test fixture, not the edge under test")},
	}
	cdknag.NagSuppressions_AddResourceSuppressions(vpc, fixture, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(alb, fixture, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(sg, fixture, jsii.Bool(true))
	return alb
}

func buildEdgeFixture() (f *edgeFixture) {
	f = &edgeFixture{}
	defer func() {
		if r := recover(); r != nil {
			f.err = edgePanicErr(r)
		}
	}()
	outDir, err := os.MkdirTemp("", "edge-test-cdkout-")
	if err != nil {
		f.err = err
		return f
	}
	f.outDir = outDir
	// The kernel is shared with TestMain, which may set this already.
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outDir)})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	env := &awscdk.Environment{Region: jsii.String("eu-west-1")}

	public := awscdk.NewStack(app, jsii.String("EdgePublic"), &awscdk.StackProps{Env: env})
	pub, err := edge.NewEdge(public, "Edge", &edge.Props{
		LoadBalancer:          edgeTestALB(public),
		CredentialsSecretName: edgeTestSecretName,
	})
	if err != nil {
		f.err = err
		return f
	}
	awscdk.NewCfnOutput(public, jsii.String("GatewayUrl"), &awscdk.CfnOutputProps{Value: pub.GatewayURL()})
	awscdk.NewCfnOutput(public, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: pub.APIURL()})

	private := awscdk.NewStack(app, jsii.String("EdgePrivate"), &awscdk.StackProps{Env: env})
	priv, err := edge.NewEdge(private, "Edge", &edge.Props{
		LoadBalancer:          edgeTestALB(private),
		CredentialsSecretName: edgeTestSecretName,
		PrivateGateway:        true,
		GatewayDomain:         &edge.Domain{Names: []string{"gateway.example.org"}, CertificateArn: edgeTestGatewayCert},
		APIDomain:             &edge.Domain{Names: []string{"cluster.example.org"}, CertificateArn: edgeTestAPICert},
		PriceClass:            awscloudfront.PriceClass_PRICE_CLASS_100,
		WebACLArn:             edgeTestWebACL,
		DisableLogging:        true,
	})
	if err != nil {
		f.err = err
		return f
	}
	awscdk.NewCfnOutput(private, jsii.String("GatewayUrl"), &awscdk.CfnOutputProps{Value: priv.GatewayURL()})
	awscdk.NewCfnOutput(private, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: priv.APIURL()})

	publicEdge := awscdk.Stack_Of(pub.AuthFunction().Lambda())
	privateEdge := awscdk.Stack_Of(priv.AuthFunction().Lambda())
	f.stacks = []awscdk.Stack{public, private, publicEdge, privateEdge}

	app.Synth(nil)
	read := func(s awscdk.Stack) edgeTemplate {
		data, err := os.ReadFile(filepath.Join(outDir, *s.TemplateFile()))
		if err != nil {
			panic(err)
		}
		var t edgeTemplate
		if err := json.Unmarshal(data, &t); err != nil {
			panic(err)
		}
		return t
	}
	f.public, f.private = read(public), read(private)
	f.publicEdge, f.privateEdge = read(publicEdge), read(privateEdge)
	return f
}

// edgeRepoRoot is the repository root as an absolute path (TestMain's repoRoot).
func edgeRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	return root
}

func edgePanicErr(r any) error {
	if err, ok := r.(error); ok {
		return err
	}
	return &edgePanicError{r}
}

type edgePanicError struct{ v any }

func (p *edgePanicError) Error() string { return fmt.Sprintf("panic: %v", p.v) }

// --- template helpers -------------------------------------------------------

func (t edgeTemplate) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	res, _ := t["Resources"].(map[string]any)
	for id, r := range res {
		m := r.(map[string]any)
		if m["Type"] == typ {
			props, _ := m["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

func (t edgeTemplate) resource(id string) map[string]any {
	res := t["Resources"].(map[string]any)
	r, ok := res[id].(map[string]any)
	if !ok {
		return nil
	}
	props, _ := r["Properties"].(map[string]any)
	return props
}

// distribution returns the DistributionConfig whose Comment is comment.
func (t edgeTemplate) distribution(tb testing.TB, comment string) map[string]any {
	tb.Helper()
	var found []map[string]any
	for _, d := range t.resources("AWS::CloudFront::Distribution") {
		cfg := d["DistributionConfig"].(map[string]any)
		if cfg["Comment"] == comment {
			found = append(found, cfg)
		}
	}
	require.Len(tb, found, 1, "exactly one distribution with comment %q", comment)
	return found[0]
}

// edgeBehaviors returns path pattern -> behavior, the default one under "*".
func edgeBehaviors(cfg map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{"*": cfg["DefaultCacheBehavior"].(map[string]any)}
	if list, ok := cfg["CacheBehaviors"].([]any); ok {
		for _, b := range list {
			m := b.(map[string]any)
			out[m["PathPattern"].(string)] = m
		}
	}
	return out
}

func edgeRefID(v any) string {
	if m, ok := v.(map[string]any); ok {
		if r, ok := m["Ref"].(string); ok {
			return r
		}
	}
	return ""
}

func edgeViewerRequestCount(b map[string]any) int {
	n := 0
	list, _ := b["LambdaFunctionAssociations"].([]any)
	for _, a := range list {
		if a.(map[string]any)["EventType"] == "viewer-request" {
			n++
		}
	}
	return n
}

func edgeSortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- tests ------------------------------------------------------------------

func TestEdgeViewerRequestAssociations(t *testing.T) {
	f := edgeFixtureGet(t)
	for name, tpl := range map[string]edgeTemplate{"public": f.public, "private": f.private} {
		api := edgeBehaviors(tpl.distribution(t, "IPFS Cluster REST API"))
		assert.Equal(t, []string{"*"}, edgeSortedKeys(api), "%s: the API has one behavior", name)
		assert.Equal(t, 1, edgeViewerRequestCount(api["*"]), "%s: API default behavior has the auth function", name)
		list := api["*"]["LambdaFunctionAssociations"].([]any)
		assert.Equal(t, false, list[0].(map[string]any)["IncludeBody"], "%s: auth needs no body", name)

		gw := edgeBehaviors(tpl.distribution(t, "IPFS gateway"))
		assert.Equal(t, []string{"*", "/ipfs/*", "/ipns/*"}, edgeSortedKeys(gw), name)
		for path, b := range gw {
			want := 0
			if name == "private" {
				want = 1
			}
			assert.Equal(t, want, edgeViewerRequestCount(b), "%s gateway %s: viewer-request associations", name, path)
		}
	}
}

// edgeLambdaFunctions returns the Lambda functions of an edge stack that are not
// CDK-internal custom-resource handlers.
func edgeLambdaFunctions(t *testing.T, tpl edgeTemplate) map[string]map[string]any {
	fns := tpl.resources("AWS::Lambda::Function")
	require.Len(t, fns, 1, "the edge stack holds exactly the auth function")
	return fns
}

func TestEdgeFunctionLimits(t *testing.T) {
	f := edgeFixtureGet(t)
	for name, tpl := range map[string]edgeTemplate{"public": f.publicEdge, "private": f.privateEdge} {
		for id, fn := range edgeLambdaFunctions(t, tpl) {
			_, hasEnv := fn["Environment"]
			assert.False(t, hasEnv, "%s %s: Lambda@Edge forbids environment variables", name, id)
			assert.Equal(t, "nodejs22.x", fn["Runtime"], name)
			assert.Equal(t, "index.handler", fn["Handler"], name)
			require.IsType(t, float64(0), fn["MemorySize"], name)
			assert.LessOrEqual(t, fn["MemorySize"].(float64), 128.0, name)
			require.IsType(t, float64(0), fn["Timeout"], name)
			assert.LessOrEqual(t, fn["Timeout"].(float64), 5.0, name)
			assert.Nil(t, fn["VpcConfig"], name)
		}
		// Trust: Lambda and Lambda@Edge.
		roles := tpl.resources("AWS::IAM::Role")
		require.Len(t, roles, 1, name)
		for _, role := range roles {
			trust, _ := json.Marshal(role["AssumeRolePolicyDocument"])
			assert.Contains(t, string(trust), "edgelambda.amazonaws.com", name)
		}
	}
}

func TestEdgeFunctionSecretPermissions(t *testing.T) {
	f := edgeFixtureGet(t)
	policies := f.publicEdge.resources("AWS::IAM::Policy")
	require.Len(t, policies, 1)
	var statements []any
	for _, p := range policies {
		statements = p["PolicyDocument"].(map[string]any)["Statement"].([]any)
	}
	require.Len(t, statements, 1, "one statement: read the credentials secret")
	st := statements[0].(map[string]any)
	assert.Equal(t, "Allow", st["Effect"])
	assert.Equal(t, "secretsmanager:GetSecretValue", st["Action"], "GetSecretValue only")
	res, _ := json.Marshal(st["Resource"])
	resource := string(res)
	assert.Contains(t, resource, ":secretsmanager:us-east-1:", "the us-east-1 replica")
	assert.Contains(t, resource, ":secret:"+edgeTestSecretName+"-??????", "exactly this secret name")
	assert.Contains(t, resource, `{"Ref":"AWS::AccountId"}`, "in the edge stack's own account")
	assert.NotContains(t, resource, "*", "no wildcard")
}

func TestEdgeFunctionBundle(t *testing.T) {
	f := edgeFixtureGet(t)
	source, err := os.ReadFile(filepath.Join(edgeRepoRoot(t), "lambda-edge", "basic-auth", "index.mjs"))
	require.NoError(t, err)
	for name, tpl := range map[string]edgeTemplate{"public": f.publicEdge, "private": f.privateEdge} {
		for _, fn := range edgeLambdaFunctions(t, tpl) {
			key, _ := fn["Code"].(map[string]any)["S3Key"].(string)
			require.True(t, strings.HasSuffix(key, ".zip"), "%s: asset code, got %q", name, key)
			dir := filepath.Join(f.outDir, "asset."+strings.TrimSuffix(key, ".zip"))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err, name)
			var files []string
			for _, e := range entries {
				files = append(files, e.Name())
			}
			assert.Equal(t, []string{"config.json", "index.mjs"}, files, "%s: the bundle holds the handler and its config only", name)

			index, err := os.ReadFile(filepath.Join(dir, "index.mjs"))
			require.NoError(t, err)
			assert.Equal(t, string(source), string(index), "%s: the handler is lambda-edge/basic-auth/index.mjs", name)

			raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
			require.NoError(t, err)
			var cfg map[string]any
			require.NoError(t, json.Unmarshal(raw, &cfg))
			assert.Equal(t, map[string]any{
				"secretName":   edgeTestSecretName,
				"secretRegion": "us-east-1",
				"realm":        "IPFS Cluster",
			}, cfg, "%s: names only, no credentials", name)
			assert.NotRegexp(t, regexp.MustCompile(`(?i)password|username|secretstring`), string(raw), name)
		}
	}
	// Same secret name, same bundle, same asset hash (stable staging).
	a := edgeLambdaFunctions(t, f.publicEdge)
	b := edgeLambdaFunctions(t, f.privateEdge)
	var ka, kb any
	for _, fn := range a {
		ka = fn["Code"].(map[string]any)["S3Key"]
	}
	for _, fn := range b {
		kb = fn["Code"].(map[string]any)["S3Key"]
	}
	assert.Equal(t, ka, kb)
}

func TestEdgeCachePolicies(t *testing.T) {
	f := edgeFixtureGet(t)
	for name, tpl := range map[string]edgeTemplate{"public": f.public, "private": f.private} {
		gw := edgeBehaviors(tpl.distribution(t, "IPFS gateway"))
		policy := func(path string) map[string]any {
			id := edgeRefID(gw[path]["CachePolicyId"])
			require.NotEmpty(t, id, "%s %s: a cache policy of this stack", name, path)
			p := tpl.resource(id)
			require.NotNil(t, p, "%s %s", name, path)
			return p["CachePolicyConfig"].(map[string]any)
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

		api := edgeBehaviors(tpl.distribution(t, "IPFS Cluster REST API"))["*"]
		assert.Equal(t, edgeManagedCachingDisabled, api["CachePolicyId"], "%s API: never cached", name)
		assert.Equal(t, edgeManagedAllViewerExceptHost, api["OriginRequestPolicyId"], "%s API: Authorization reaches the origin", name)
		assert.ElementsMatch(t, []any{"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}, api["AllowedMethods"], "%s API: every method", name)
	}
}

func TestEdgeHTTPSOnly(t *testing.T) {
	f := edgeFixtureGet(t)
	for name, tpl := range map[string]edgeTemplate{"public": f.public, "private": f.private} {
		for _, comment := range []string{"IPFS gateway", "IPFS Cluster REST API"} {
			cfg := tpl.distribution(t, comment)
			assert.Equal(t, "http2and3", cfg["HttpVersion"], "%s %s", name, comment)
			for path, b := range edgeBehaviors(cfg) {
				assert.Contains(t, []any{"https-only", "redirect-to-https"}, b["ViewerProtocolPolicy"], "%s %s %s", name, comment, path)
				assert.NotNil(t, b["ResponseHeadersPolicyId"], "%s %s %s: security headers", name, comment, path)
			}
		}
		assert.Equal(t, "https-only", edgeBehaviors(tpl.distribution(t, "IPFS Cluster REST API"))["*"]["ViewerProtocolPolicy"], name)
	}

	// Custom domains: TLS 1.2 minimum, SNI, the configured certificates.
	for comment, cert := range map[string]string{"IPFS gateway": edgeTestGatewayCert, "IPFS Cluster REST API": edgeTestAPICert} {
		cfg := f.private.distribution(t, comment)
		vc := cfg["ViewerCertificate"].(map[string]any)
		assert.Equal(t, "TLSv1.2_2021", vc["MinimumProtocolVersion"], comment)
		assert.Equal(t, "sni-only", vc["SslSupportMethod"], comment)
		assert.Equal(t, cert, vc["AcmCertificateArn"], comment)
		assert.Equal(t, edgeTestWebACL, cfg["WebACLId"], comment)
		assert.Equal(t, "PriceClass_100", cfg["PriceClass"], comment)
		assert.Nil(t, cfg["Logging"], comment)
	}
	// Security headers on every distribution; CORS on the public gateway only.
	for name, tpl := range map[string]edgeTemplate{"public": f.public, "private": f.private} {
		policies := tpl.resources("AWS::CloudFront::ResponseHeadersPolicy")
		require.Len(t, policies, 2, name)
		cors := 0
		for _, p := range policies {
			cfg := p["ResponseHeadersPolicyConfig"].(map[string]any)
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

func TestEdgeOriginsAreVpcOrigins(t *testing.T) {
	f := edgeFixtureGet(t)
	for name, tpl := range map[string]edgeTemplate{"public": f.public, "private": f.private} {
		albs := tpl.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
		require.Len(t, albs, 1, name)
		var albID string
		for id, alb := range albs {
			albID = id
			assert.Equal(t, "internal", alb["Scheme"], "%s: the ALB never faces the Internet", name)
		}

		vpcOrigins := tpl.resources("AWS::CloudFront::VpcOrigin")
		require.Len(t, vpcOrigins, 2, "%s: one VPC origin per ALB listener port", name)
		ports := map[float64]string{}
		for id, vo := range vpcOrigins {
			cfg := vo["VpcOriginEndpointConfig"].(map[string]any)
			assert.Equal(t, albID, edgeRefID(cfg["Arn"]), "%s: VPC origin on the internal ALB", name)
			assert.Equal(t, "http-only", cfg["OriginProtocolPolicy"], name)
			ports[cfg["HTTPPort"].(float64)] = id
		}

		for comment, port := range map[string]float64{"IPFS gateway": 8080, "IPFS Cluster REST API": 9094} {
			cfg := tpl.distribution(t, comment)
			origins := cfg["Origins"].([]any)
			require.Len(t, origins, 1, "%s %s: one origin", name, comment)
			o := origins[0].(map[string]any)
			assert.Nil(t, o["CustomOriginConfig"], "%s %s: no custom (public) origin", name, comment)
			assert.Nil(t, o["S3OriginConfig"], "%s %s", name, comment)
			vc, ok := o["VpcOriginConfig"].(map[string]any)
			require.True(t, ok, "%s %s: a VPC origin", name, comment)
			id, _ := vc["VpcOriginId"].(map[string]any)["Fn::GetAtt"].([]any)
			require.Len(t, id, 2, "%s %s", name, comment)
			assert.Equal(t, ports[port], id[0], "%s %s: the VPC origin on port %v", name, comment, port)
		}
	}
}

func TestEdgeAccessLogging(t *testing.T) {
	f := edgeFixtureGet(t)
	buckets := f.public.resources("AWS::S3::Bucket")
	require.Len(t, buckets, 1)
	var bucketID string
	for id, b := range buckets {
		bucketID = id
		rules := b["OwnershipControls"].(map[string]any)["Rules"].([]any)
		assert.Equal(t, "BucketOwnerPreferred", rules[0].(map[string]any)["ObjectOwnership"], "CloudFront logging needs ACLs")
		pab := b["PublicAccessBlockConfiguration"].(map[string]any)
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			assert.Equal(t, true, pab[k], k)
		}
		assert.NotNil(t, b["BucketEncryption"])
		assert.NotNil(t, b["LifecycleConfiguration"])
	}
	policy, _ := json.Marshal(f.public.resources("AWS::S3::BucketPolicy"))
	assert.Contains(t, string(policy), `"aws:SecureTransport":"false"`, "SSL enforced")
	for comment, prefix := range map[string]string{"IPFS gateway": "gateway/", "IPFS Cluster REST API": "api/"} {
		logging := f.public.distribution(t, comment)["Logging"].(map[string]any)
		assert.Equal(t, prefix, logging["Prefix"])
		b, _ := json.Marshal(logging["Bucket"])
		assert.Contains(t, string(b), bucketID)
	}
}

func TestEdgeOutputs(t *testing.T) {
	f := edgeFixtureGet(t)
	out := func(tpl edgeTemplate, key string) string {
		b, _ := json.Marshal(tpl["Outputs"].(map[string]any)[key].(map[string]any)["Value"])
		return string(b)
	}
	assert.Equal(t, `"https://gateway.example.org"`, out(f.private, "GatewayUrl"))
	assert.Equal(t, `"https://cluster.example.org"`, out(f.private, "ApiUrl"))
	assert.Contains(t, out(f.public, "GatewayUrl"), "https://")
	assert.Contains(t, out(f.public, "GatewayUrl"), "DomainName")
}

func TestEdgeCdkNag(t *testing.T) {
	f := edgeFixtureGet(t)
	require.Len(t, f.stacks, 4)
	regions := map[string]bool{}
	for _, s := range f.stacks {
		regions[*s.Region()] = true
		errs := assertions.Annotations_FromStack(s).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		for _, m := range *errs {
			t.Errorf("%s: %s %v", *s.StackName(), *m.Id, m.Entry.Data)
		}
	}
	assert.Equal(t, map[string]bool{"eu-west-1": true, "us-east-1": true}, regions, "the us-east-1 edge stacks are checked too")
}

func TestEdgePropsValidation(t *testing.T) {
	edgeFixtureGet(t) // shares the kernel start-up
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("EdgeValidation"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("eu-west-1")}})
	alb := edgeTestALB(stack)

	publicStack := awscdk.NewStack(app, jsii.String("EdgeValidationPublicAlb"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("eu-west-1")}})
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
		{"domain without names", func(p *edge.Props) { p.GatewayDomain = &edge.Domain{CertificateArn: edgeTestGatewayCert} }, []string{"GatewayDomain.Names", "at least one"}},
		{"domain without certificate", func(p *edge.Props) { p.APIDomain = &edge.Domain{Names: []string{"api.example.org"}} }, []string{"APIDomain.CertificateArn", "required"}},
		{"certificate outside us-east-1", func(p *edge.Props) {
			p.APIDomain = &edge.Domain{Names: []string{"api.example.org"}, CertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}
		}, []string{"APIDomain.CertificateArn", "us-east-1"}},
		{"bad domain name", func(p *edge.Props) {
			p.GatewayDomain = &edge.Domain{Names: []string{"Not A Host"}, CertificateArn: edgeTestGatewayCert}
		}, []string{"GatewayDomain.Names", "not a fully qualified domain name"}},
		{"duplicate domain name", func(p *edge.Props) {
			p.GatewayDomain = &edge.Domain{Names: []string{"g.example.org", "g.example.org"}, CertificateArn: edgeTestGatewayCert}
		}, []string{"GatewayDomain.Names", "twice"}},
		{"bad price class", func(p *edge.Props) { p.PriceClass = "PRICE_CLASS_1" }, []string{"PriceClass", "PRICE_CLASS_100"}},
		{"regional web ACL", func(p *edge.Props) {
			p.WebACLArn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/abcdef01-2345-6789-abcd-ef0123456789"
		}, []string{"WebACLArn", "CLOUDFRONT"}},
		{"log bucket with logging off", func(p *edge.Props) {
			p.DisableLogging = true
			p.LogBucket = edgeTestBucket(stack)
		}, []string{"LogBucket", "DisableLogging"}},
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
		agnostic := awscdk.NewStack(app, jsii.String("EdgeValidationAgnostic"), nil)
		_, err := edge.NewEdge(agnostic, "Edge", &edge.Props{LoadBalancer: alb, CredentialsSecretName: edgeTestSecretName})
		assert.ErrorContains(t, err, "explicit region")
	})
}

func edgeTestBucket(scope constructs.Construct) awss3.IBucket {
	return awss3.NewBucket(scope, jsii.String("SomeLogBucket"), nil)
}
