// Package test holds the CDK assertion tests of the whole app, one file per
// construct (network, node, loadbalancer, edge, clustersecrets, images), the
// composition (stack_test.go) and cross-cutting checks (security_test.go).
//
// One jsii kernel serves the test binary: TestMain builds and synthesizes
// each fixture below once and every test reads the shared templates. Never
// use t.Parallel() here: the kernel is not goroutine-safe.
package test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	_ "github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/jsiienv"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/stackspec"
)

// repoRoot is where go test runs this package from: test/.
const repoRoot = ".."

var (
	// defaults is cdk.json exactly as shipped.
	defaults *synthesized
	// privateSwarm is cdk.json with publicSwarm=false and six nodes.
	privateSwarm *synthesized
	// destroyData is cdk.json with dataRemovalPolicy=destroy, as test
	// deployments use it.
	destroyData *synthesized
	// keptCopy is cdk.json (data retained) with a backup copy region: the
	// copy vault's stack under retain.
	keptCopy *synthesized
	// allFeatures is the largest configuration the app accepts
	// (allFeaturesOverrides); its assembly in allFeatures.outDir holds the
	// nested templates too (allFeatures.nested). Checks over every template
	// of the app at its limits use it.
	allFeatures *synthesized
	// twoRegions is allFeaturesOverrides over two regions, half the peers
	// in each (twoRegionsOverrides): the heaviest two-region app.
	twoRegions *synthesized
	// twoRegionsPublic is cdk.json as shipped (public swarm, data
	// retained) with a second region.
	twoRegionsPublic *synthesized
	// edgeApp holds the edge construct alone, in stacks of its own.
	edgeApp *edgeFixture
	// scratch holds every cloud assembly of the run and whatever the CDK
	// and jsii put in the temporary directory; TestMain removes it.
	scratch string
)

// synthesized is one configuration of the app built and synthesized once.
type synthesized struct {
	// stackTemplate is the cluster stack.
	*stackTemplate
	config config.Config
	stack  *stacks.IpfsCluster
	// template is the cluster stack for the assertions package.
	template assertions.Template
	cdkApp   awscdk.App
	// stacks are every stack of the app (the cluster stack and the us-east-1
	// stack of the Lambda@Edge function) by artifact ID.
	stacks map[string]*stackTemplate
	// nested are the nested stacks' templates by file name.
	nested map[string]*stackTemplate
	outDir string
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test fixtures:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	var err error
	if scratch, err = os.MkdirTemp("", "ipfs-cluster-aws-test-"); err != nil {
		return 1, err
	}
	defer func() { _ = os.RemoveAll(scratch) }()
	// The edge construct stages its Lambda bundle in the temporary
	// directory, and the kernel (started on the first CDK call, below)
	// inherits this environment: nothing of the run outlives it.
	if err := os.Setenv("TMPDIR", scratch); err != nil {
		return 1, err
	}
	defer jsii.Close()

	for _, f := range []struct {
		dst       **synthesized
		overrides map[string]any
	}{
		{&defaults, nil},
		{&privateSwarm, map[string]any{config.KeyPublicSwarm: "false", config.KeyNodeCount: "6"}},
		{&destroyData, map[string]any{config.KeyDataRemovalPolicy: "destroy"}},
		{&keptCopy, map[string]any{config.KeyBackupCopyRegion: "eu-central-1"}},
		{&allFeatures, allFeaturesOverrides()},
		{&twoRegions, twoRegionsOverrides()},
		{&twoRegionsPublic, secondRegionOverrides(nil)},
	} {
		if *f.dst, err = synth(f.overrides); err != nil {
			return 1, fmt.Errorf("synth %v: %w", f.overrides, err)
		}
	}
	if edgeApp, err = buildEdgeFixture(); err != nil {
		return 1, fmt.Errorf("edge app: %w", err)
	}
	return m.Run(), nil
}

// allFeaturesOverrides is cdk.json with every optional feature on, each at
// its heaviest legal choice, and the most nodes config accepts:
// stackspec.MaxNodes(). privateGateway is off because it excludes the
// subdomain gateway and the websites, which weigh more (a distribution, its
// policies and an output); bursting throughput adds an alarm per node,
// provisioned only a property; destroy adds what deleting the data needs.
// Names are at their longest where they recur in every node (the stack
// name is in every alarm name).
func allFeaturesOverrides() map[string]any {
	// As many website names as a distribution takes, as long as they may
	// be together.
	websites := make([]string, edgespec.MaxAliases)
	room := stackspec.MaxWebsiteNamesLength - (len(websites) - 1)
	for i := range websites {
		label := fmt.Sprintf("s%02d", i) + strings.Repeat("w", room/len(websites)-len("s00.ex.io"))
		if i < room%len(websites) {
			label += "w"
		}
		websites[i] = label + ".ex.io"
	}
	// The longest DNS name (253) of 63-character labels.
	longName := func(domain string) string {
		return strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("a", 253-3*64-1-len(domain)) + "." + domain
	}
	return map[string]any{
		config.KeyStackName:             "IpfsCluster" + strings.Repeat("x", 128-len("IpfsCluster")),
		config.KeyCloudMapNamespace:     strings.Repeat("n", stackspec.MaxCloudMapNamespaceLength-len(".internal")) + ".internal",
		config.KeyAccount:               "123456789012",
		config.KeyNodeCount:             strconv.Itoa(stackspec.MaxNodes()),
		config.KeyReplicationFactorMax:  strconv.Itoa(stackspec.MaxNodes()),
		config.KeyGatewayNoFetch:        "true",
		config.KeyPublicSwarm:           "false",
		config.KeyEfsThroughputMode:     "bursting",
		config.KeyDataRemovalPolicy:     "destroy",
		config.KeyGatewayDomainName:     longName("example.org"),
		config.KeyGatewayCertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f",
		config.KeyGatewaySubdomains:     "true",
		config.KeyAPIDomainName:         longName("example.com"),
		config.KeyAPICertificateArn:     "arn:aws:acm:us-east-1:123456789012:certificate/2a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f",
		config.KeyWebsiteDomains:        strings.Join(websites, ","),
		config.KeyWebsiteCertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/1a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f",
		config.KeyWebACLArn:             "arn:aws:wafv2:us-east-1:123456789012:global/webacl/ipfs/abcdef01-2345-6789-abcd-ef0123456789",
		config.KeyAlarmEmail:            "operations@example.org",
		config.KeyBackupCopyRegion:      "eu-central-1",
	}
}

// secondRegionOverrides adds a second region to overrides.
func secondRegionOverrides(overrides map[string]any) map[string]any {
	out := map[string]any{
		config.KeySecondRegion:                  "us-east-2",
		config.KeySecondRegionAvailabilityZones: []any{"us-east-2a", "us-east-2b", "us-east-2c"},
	}
	for k, v := range overrides {
		out[k] = v
	}
	return out
}

// twoRegionsOverrides is allFeaturesOverrides with the peer mesh's bound
// split over two regions: each region's cluster stack holds
// stackspec.ClusterStackNodes nodes and nested stacks beyond.
func twoRegionsOverrides() map[string]any {
	half := nodespec.MaxPeers / 2
	out := secondRegionOverrides(allFeaturesOverrides())
	out[config.KeyNodeCount] = strconv.Itoa(half)
	out[config.KeySecondRegionNodeCount] = strconv.Itoa(nodespec.MaxPeers - half)
	return out
}

// cdkJSONContext returns cdk.json's context with overrides applied the way
// `cdk -c key=value` would (string values).
func cdkJSONContext(overrides map[string]any) map[string]any {
	ctx, err := config.LoadCdkJSONContext(repoRoot + "/cdk.json")
	if err != nil {
		panic(err)
	}
	// The CDK CLI turns version reporting on (each stack gets the
	// AWS::CDK::Metadata resource a deployed stack has, which cfn-lint reads
	// to recognise a CDK template) and path metadata as cdk.json says (each
	// resource's aws:cdk:path counts against CloudFormation's template
	// size).
	ctx["aws:cdk:version-reporting"] = true
	ctx["aws:cdk:enable-path-metadata"] = cdkJSONPathMetadata()
	for k, v := range overrides {
		ctx[k] = v
	}
	return ctx
}

// cdkJSONPathMetadata is cdk.json's "pathMetadata" as the CLI reads it
// (default true).
func cdkJSONPathMetadata() bool {
	raw, err := os.ReadFile(repoRoot + "/cdk.json")
	if err != nil {
		panic(err)
	}
	var doc struct {
		PathMetadata *bool `json:"pathMetadata"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic(err)
	}
	return doc.PathMetadata == nil || *doc.PathMetadata
}

// newApp returns an App with context whose cloud assembly goes to a new
// directory under scratch.
func newApp(context map[string]any) (awscdk.App, string, error) {
	outDir, err := os.MkdirTemp(scratch, "cdk.out-")
	if err != nil {
		return nil, "", err
	}
	props := &awscdk.AppProps{Outdir: jsii.String(outDir)}
	if context != nil {
		props.Context = &context
	}
	return awscdk.NewApp(props), outDir, nil
}

// testApp is newApp for a test.
func testApp(t *testing.T, context map[string]any) awscdk.App {
	t.Helper()
	cdkApp, _, err := newApp(context)
	require.NoError(t, err)
	return cdkApp
}

// synth builds the app as `cdk synth` does, with cdk.json's context and
// overrides, and synthesizes it once.
func synth(overrides map[string]any) (*synthesized, error) {
	cdkApp, outDir, err := newApp(cdkJSONContext(overrides))
	if err != nil {
		return nil, err
	}
	s := &synthesized{cdkApp: cdkApp, outDir: outDir}
	err = catch(func() error {
		if s.stack, err = app.Build(cdkApp, repoRoot); err != nil {
			return err
		}
		cdkApp.Synth(nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.config, err = config.Parse(app.ReadContext(cdkApp.Node())); err != nil {
		return nil, err
	}
	if s.stacks, err = loadAssembly(outDir); err != nil {
		return nil, err
	}
	if s.nested, err = loadNested(outDir); err != nil {
		return nil, err
	}
	s.stackTemplate = s.stacks[*s.stack.ArtifactId()]
	if s.stackTemplate == nil {
		return nil, fmt.Errorf("no stack %s in %s", *s.stack.ArtifactId(), outDir)
	}
	raw := map[string]any{"Resources": s.resources, "Outputs": s.outputs}
	s.template = assertions.Template_FromJSON(&raw, nil)
	return s, nil
}

// The edge fixture: the edge construct in an app of its own, without this
// repository's stack. Two consuming stacks in eu-west-1 without an account,
// one with a public gateway and default settings, one with a private
// gateway, custom domains, a web ACL and logging off; each gets its
// us-east-1 edge stack.
const (
	edgeTestSecretName  = "ipfs-cluster/rest-api-credentials"
	edgeTestGatewayCert = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
	edgeTestAPICert     = "arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000"
	edgeTestWebACL      = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/ipfs/abcdef01-2345-6789-abcd-ef0123456789"
)

type edgeFixture struct {
	outDir string
	// Templates of the consuming stacks and of their us-east-1 edge stacks.
	public, private         *stackTemplate
	publicEdge, privateEdge *stackTemplate
	// all four stacks: public, its edge stack, private, its edge stack
	all []*stackTemplate
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
	// and network constructs are checked in the app fixtures.
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

func buildEdgeFixture() (*edgeFixture, error) {
	cdkApp, outDir, err := newApp(nil)
	if err != nil {
		return nil, err
	}
	f := &edgeFixture{outDir: outDir}
	var stacks []awscdk.Stack
	err = catch(func() error {
		awscdk.Aspects_Of(cdkApp).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		env := &awscdk.Environment{Region: jsii.String("eu-west-1")}
		build := func(id string, props *edge.Props) error {
			stack := awscdk.NewStack(cdkApp, jsii.String(id), &awscdk.StackProps{Env: env})
			props.LoadBalancer = edgeTestALB(stack)
			e, err := edge.NewEdge(stack, "Edge", props)
			if err != nil {
				return err
			}
			awscdk.NewCfnOutput(stack, jsii.String("GatewayUrl"), &awscdk.CfnOutputProps{Value: e.GatewayURL()})
			awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: e.APIURL()})
			stacks = append(stacks, stack, awscdk.Stack_Of(e.AuthFunction().Lambda()))
			return nil
		}
		if err := build("EdgePublic", &edge.Props{CredentialsSecretName: edgeTestSecretName}); err != nil {
			return err
		}
		if err := build("EdgePrivate", &edge.Props{
			CredentialsSecretName: edgeTestSecretName,
			PrivateGateway:        true,
			GatewayDomain:         &edge.Domain{Names: []string{"gateway.example.org"}, CertificateArn: edgeTestGatewayCert},
			APIDomain:             &edge.Domain{Names: []string{"cluster.example.org"}, CertificateArn: edgeTestAPICert},
			PriceClass:            awscloudfront.PriceClass_PRICE_CLASS_100,
			WebACLArn:             edgeTestWebACL,
			DisableLogging:        true,
		}); err != nil {
			return err
		}
		cdkApp.Synth(nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	assembly, err := loadAssembly(outDir)
	if err != nil {
		return nil, err
	}
	for _, s := range stacks {
		st := assembly[*s.ArtifactId()]
		if st == nil {
			return nil, fmt.Errorf("no stack %s in %s", *s.ArtifactId(), outDir)
		}
		f.all = append(f.all, st)
	}
	f.public, f.publicEdge, f.private, f.privateEdge = f.all[0], f.all[1], f.all[2], f.all[3]
	return f, nil
}
