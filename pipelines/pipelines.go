// Package pipelines builds the two self-mutating CDK Pipelines of the
// project: develop deploys the cluster stack to the test environment and
// smoke-tests it; main waits for a manual approval, deploys to production
// and smoke-tests it. Each stage holds the same stacks.New stack, configured
// by config.Parse (the base settings plus the stage's overrides).
package pipelines

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	cdkpipelines "github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/names"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// CDKCLIVersion is the aws-cdk CLI (npm) this project is synthesized and
// deployed with: the README's commands name it and the pipelines install it
// (a test ties the two).
const CDKCLIVersion = "2.1148.1"

// What every CodeBuild project of the pipelines builds with. The image
// selects a Go and a Node.js it documents (a runtime-versions entry the
// image lacks fails the install phase of every project it is merged into),
// and the go command then fetches the toolchain GoToolchain names from the
// module proxy: the build does not wait for the image to ship the Go that
// go.mod needs. test/pipelines_test.go holds the image's runtime table.
const (
	BuildImage = "aws/codebuild/standard:7.0"
	// GoRuntime is any Go of the image that can switch toolchains (1.21
	// and later); the oldest the image still lists.
	GoRuntime = "1.24"
	// GoToolchain is the Go this project is built and measured with; its
	// language version is go.mod's go line (a test ties them).
	GoToolchain = "go1.26.8"
	// NodeRuntime runs the aws-cdk CLI and the jsii kernel (which calls
	// Node.js 20 end-of-life).
	NodeRuntime = "22"
)

// Branches the pipelines track.
const (
	TestBranch = "develop"
	ProdBranch = "main"
)

// Stage names, as the pipelines show them.
const (
	TestStage = "Test"
	ProdStage = "Prod"
)

// Step names.
const (
	ApprovalStep  = "PromoteToProduction"
	SmokeTestStep = "SmokeTest"
)

// Props configure both pipelines.
type Props struct {
	// Config is the validated configuration; Config.Pipeline must be set.
	Config config.Config
	// SourceDir is the repository root (docker/, lambda-edge/).
	SourceDir string
	// ExtendStage, when set, may add constructs to a stage's cluster stack
	// (alarms, a fork's own resources). It runs before the stage is
	// synthesized: CDK Pipelines synthesizes a stage when it is added, and
	// cdk-nag checks the stage then.
	ExtendStage func(stageName string, cluster *stacks.IpfsCluster)
}

// Delivery is both pipelines.
type Delivery struct {
	Test *Pipeline
	Prod *Pipeline
}

// Pipeline is one branch's pipeline stack and what it deploys.
type Pipeline struct {
	Stack    awscdk.Stack
	Pipeline cdkpipelines.CodePipeline
	Branch   string
	// Stage holds the cluster stack and its us-east-1 edge stack.
	Stage   awscdk.Stage
	Cluster *stacks.IpfsCluster
	// SmokeTestRole is the role, in the stage's account, the smoke test
	// assumes: exactly what cmd/smoketest reads.
	SmokeTestRole awsiam.Role
	SmokeTest     cdkpipelines.CodeBuildStep
}

// New adds both pipeline stacks to scope (the App) and builds them, so that
// cdk-nag and the suppressions see their final resources.
func New(scope constructs.Construct, props *Props) (*Delivery, error) {
	if props.Config.Pipeline == nil {
		return nil, fmt.Errorf("pipelines: the configuration has no pipeline settings")
	}
	pl := props.Config.Pipeline
	test, err := newPipeline(scope, props, TestBranch, TestStage, pl.Test, false)
	if err != nil {
		return nil, err
	}
	prod, err := newPipeline(scope, props, ProdBranch, ProdStage, pl.Prod, true)
	if err != nil {
		return nil, err
	}
	return &Delivery{Test: test, Prod: prod}, nil
}

// All returns both pipelines, test first.
func (d *Delivery) All() []*Pipeline { return []*Pipeline{d.Test, d.Prod} }

// StackID is the construct ID and name of a branch's pipeline stack, from
// the base configuration's stack name.
func StackID(baseStackName, branch string) string {
	return baseStackName + "-pipeline-" + branch
}

// AvailabilityZonesContextKey is the context key under which the CDK looks
// up the zones of an account and region (Stack.AvailabilityZones, which
// ec2.Vpc checks its explicit zones against).
func AvailabilityZonesContextKey(account, region string) string {
	return "availability-zones:account=" + account + ":region=" + region
}

func newPipeline(scope constructs.Construct, props *Props, branch, stageName string, stageCfg config.Config, approval bool) (*Pipeline, error) {
	pl := props.Config.Pipeline
	id := StackID(props.Config.StackName, branch)
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		Env:         &awscdk.Environment{Account: jsii.String(pl.Account), Region: jsii.String(pl.Region)},
		StackName:   jsii.String(id),
		Description: jsii.String(fmt.Sprintf("CDK Pipeline: %s@%s -> %s stage (%s, %s/%s)", pl.SourceRepository, branch, stageName, stageCfg.StackName, stageCfg.Account, stageCfg.Region)),
	})
	source := cdkpipelines.CodePipelineSource_Connection(jsii.String(pl.SourceRepository), jsii.String(branch), &cdkpipelines.ConnectionSourceOptions{
		ConnectionArn: jsii.String(pl.SourceConnectionArn),
		TriggerOnPush: jsii.Bool(true),
	})
	synth := cdkpipelines.NewShellStep(jsii.String("Synth"), &cdkpipelines.ShellStepProps{
		Input:                  source,
		Commands:               jsii.Strings(SynthCommands(id)...),
		PrimaryOutputDirectory: jsii.String("cdk.out"),
	})
	pipeline := cdkpipelines.NewCodePipeline(stack, jsii.String("Pipeline"), &cdkpipelines.CodePipelineProps{
		PipelineName: jsii.String(id),
		PipelineType: awscodepipeline.PipelineType_V2,
		Synth:        synth,
		// Stages in other accounts read the artifacts through a KMS key.
		CrossAccountKeys:  jsii.Bool(true),
		EnableKeyRotation: jsii.Bool(true),
		// One us-east-1 support stack per pipeline: two pipelines sharing
		// one would re-deploy it from both self-mutations at once
		// (aws/aws-cdk#31060).
		ReuseCrossRegionSupportStacks: jsii.Bool(false),
		CliVersion:                    jsii.String(CDKCLIVersion),
		CodeBuildDefaults: &cdkpipelines.CodeBuildOptions{
			BuildEnvironment: &awscodebuild.BuildEnvironment{BuildImage: awscodebuild.LinuxBuildImage_FromCodeBuildImageId(jsii.String(BuildImage))},
			PartialBuildSpec: RuntimeVersionsBuildSpec(),
		},
	})

	stage := awscdk.NewStage(stack, jsii.String(stageName), &awscdk.StageProps{
		Env: &awscdk.Environment{Account: jsii.String(stageCfg.Account), Region: jsii.String(stageCfg.Region)},
	})
	// With a concrete account, ec2.Vpc checks its explicit zones against a
	// context lookup that needs credentials in the stage's account: answer
	// it with the configured zones so synth stays offline.
	stage.Node().SetContext(jsii.String(AvailabilityZonesContextKey(stageCfg.Account, stageCfg.Region)), stageCfg.AvailabilityZones)
	if stageCfg.SecondRegion != "" {
		stage.Node().SetContext(jsii.String(AvailabilityZonesContextKey(stageCfg.Account, stageCfg.SecondRegion)), stageCfg.SecondRegionAvailabilityZones)
	}
	cluster, err := stacks.New(stage, "IpfsCluster", &stacks.Props{Config: stageCfg, SourceDir: props.SourceDir})
	if err != nil {
		return nil, err
	}
	runner := newSmokeTestRunnerRole(pipeline, id)
	role := newSmokeTestRole(cluster, stageCfg, smokeTestRunnerRoleArn(stack, pl.Account, id))
	if props.ExtendStage != nil {
		props.ExtendStage(stageName, cluster)
	}
	// cdk-nag on the App does not visit stacks inside a Stage; and AddStage
	// synthesizes the stage, so its checks (and anything added to its
	// stacks) must be in place before.
	awscdk.Aspects_Of(stage).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)

	smoke := cdkpipelines.NewCodeBuildStep(jsii.String(SmokeTestStep), &cdkpipelines.CodeBuildStepProps{
		Input:             source,
		EnvFromCfnOutputs: outputVariables(cluster),
		Env: &map[string]*string{
			"SMOKE_TEST_ROLE_ARN": smokeTestRoleArn(stack, stageCfg),
		},
		Commands:             jsii.Strings(SmokeTestCommands(stageCfg)...),
		Role:                 runner,
		RolePolicyStatements: &[]awsiam.PolicyStatement{SmokeTestRunnerPolicy(stack, stageCfg)},
	})
	opts := &cdkpipelines.AddStageOpts{Post: &[]cdkpipelines.Step{smoke}}
	if approval {
		opts.Pre = &[]cdkpipelines.Step{cdkpipelines.NewManualApprovalStep(jsii.String(ApprovalStep), &cdkpipelines.ManualApprovalStepProps{
			Comment: jsii.String(fmt.Sprintf("Deploy %s@%s to production (%s in %s/%s)?", pl.SourceRepository, branch, stageCfg.StackName, stageCfg.Account, stageCfg.Region)),
		})}
	}
	pipeline.AddStage(stage, opts)
	// Suppressions need the pipeline's final resources.
	pipeline.BuildPipeline()
	grantConnectionUse(pipeline, pl.SourceConnectionArn)
	suppressPipelineFindings(pipeline)

	return &Pipeline{
		Stack: stack, Pipeline: pipeline, Branch: branch, Stage: stage, Cluster: cluster,
		SmokeTestRole: role, SmokeTest: smoke,
	}, nil
}

// RuntimeVersionsBuildSpec is merged into every CodeBuild project of the
// pipelines (synth, self-mutation, assets, smoke test).
func RuntimeVersionsBuildSpec() awscodebuild.BuildSpec {
	return awscodebuild.BuildSpec_FromObject(&map[string]any{
		// GOTOOLCHAIN=<name> makes every go command run that toolchain,
		// downloaded once per build (GOPROXY's default, proxy.golang.org,
		// checked against the checksum database).
		"env": map[string]any{"variables": map[string]any{"GOTOOLCHAIN": GoToolchain}},
		"phases": map[string]any{
			"install": map[string]any{
				"runtime-versions": map[string]any{"golang": GoRuntime, "nodejs": NodeRuntime},
			},
		},
	})
}

// SynthCommands are the synth step's commands: the unit and CDK tests (the
// daemon scenarios skip themselves with -short; .ci/run runs them), then
// synth. The pipeline synthesizes from the repository's cdk.json: if that
// lacks the pipeline settings, stop here rather than self-mutate into
// something else.
func SynthCommands(pipelineStackID string) []string {
	return []string{
		"go test -short ./...",
		"npx --yes aws-cdk@" + CDKCLIVersion + " synth",
		fmt.Sprintf(`test -f cdk.out/%[1]s.template.json || { echo "cdk.out has no %[1]s: commit the pipeline settings to cdk.json (see README, Delivery pipeline)" >&2; exit 1; }`, pipelineStackID),
	}
}

// SmokeTestCommands run cmd/smoketest against the stage's stack; it
// assumes the stage's smoke-test role itself (CodeBuild's own credentials
// are the source), the only role that may read that stack, its secret and
// its services.
func SmokeTestCommands(stageCfg config.Config) []string {
	return []string{
		fmt.Sprintf(`go run ./cmd/smoketest -stack %s -region %s -role-arn "$SMOKE_TEST_ROLE_ARN"`, stageCfg.StackName, stageCfg.Region),
	}
}

// smokeTestRoleArn is built from the role's fixed name: the pipeline stack
// cannot reference a resource of a stack in another account.
func smokeTestRoleArn(scope constructs.Construct, stageCfg config.Config) *string {
	return awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("iam"),
		Region:       jsii.String(""),
		Account:      jsii.String(stageCfg.Account),
		Resource:     jsii.String("role"),
		ResourceName: jsii.String(stageCfg.SmokeTestRoleName()),
	})
}

// SmokeTestRunnerRoleName is the fixed name of the smoke test's CodeBuild
// role in the pipeline account: the stage's smoke-test role, in another
// account, trusts exactly this role and cannot read a generated name.
func SmokeTestRunnerRoleName(pipelineStackID string) string {
	return names.Fit(pipelineStackID, "-smoke-test-runner", 64)
}

func smokeTestRunnerRoleArn(scope constructs.Construct, pipelineAccount, pipelineStackID string) *string {
	return awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("iam"),
		Region:       jsii.String(""),
		Account:      jsii.String(pipelineAccount),
		Resource:     jsii.String("role"),
		ResourceName: jsii.String(SmokeTestRunnerRoleName(pipelineStackID)),
	})
}

// newSmokeTestRunnerRole is the smoke-test CodeBuild project's role, named
// so that the stage's smoke-test role can trust it alone. CDK Pipelines adds
// CodeBuild's logs, reports and artifact reads to it, as to the roles it
// creates itself; inside the pipeline construct it gets their suppressions.
func newSmokeTestRunnerRole(pipeline cdkpipelines.CodePipeline, pipelineStackID string) awsiam.Role {
	return awsiam.NewRole(pipeline, jsii.String("SmokeTestRunnerRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(SmokeTestRunnerRoleName(pipelineStackID)),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("codebuild.amazonaws.com"), nil),
		Description: jsii.String("The delivery pipeline's smoke-test CodeBuild project: may assume the stage's smoke-test role"),
	})
}

// grantConnectionUse gives the source action's role the permission its
// connection needs. CDK (2.224.0) grants codestar-connections:UseConnection
// on the connection whatever its ARN, but IAM matches an action's service
// prefix to the resource's: a connection whose ARN is
// arn:aws:codeconnections:... (what the console creates since July 2024)
// needs codeconnections:UseConnection.
func grantConnectionUse(pipeline cdkpipelines.CodePipeline, connectionArn string) {
	if !strings.HasPrefix(connectionArn, "arn:aws:codeconnections:") {
		return
	}
	// CodePipeline creates each action's role under <stage>/<action>.
	source := pipeline.Pipeline().Node().TryFindChild(jsii.String("Source"))
	for _, action := range *source.Node().Children() {
		role, ok := action.Node().TryFindChild(jsii.String("CodePipelineActionRole")).(awsiam.IRole)
		if !ok {
			continue
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("codeconnections:UseConnection"),
			Resources: jsii.Strings(connectionArn),
		}))
	}
}

// SmokeTestRunnerPolicy is the smoke-test CodeBuild project's own grant: it
// may only assume the stage's smoke-test role.
func SmokeTestRunnerPolicy(scope constructs.Construct, stageCfg config.Config) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sts:AssumeRole"),
		Resources: &[]*string{smokeTestRoleArn(scope, stageCfg)},
	})
}

// newSmokeTestRole adds, to the stage's cluster stack, the role the smoke
// test assumes. An IAM policy in the pipeline account cannot grant reads of
// another account's stack, secret and services; a role in that account can.
// It may read exactly this stack, the REST API credentials and the node
// services.
func newSmokeTestRole(cluster *stacks.IpfsCluster, stageCfg config.Config, runnerRoleArn *string) awsiam.Role {
	var services []*string
	for _, n := range cluster.Nodes {
		services = append(services, n.Service.ServiceArn())
	}
	role := awsiam.NewRole(cluster.Stack, jsii.String("SmokeTestRole"), &awsiam.RoleProps{
		RoleName: jsii.String(stageCfg.SmokeTestRoleName()),
		// Only the smoke test's own CodeBuild role, not the whole pipeline
		// account. IAM checks that the role exists when this stack is
		// deployed: the pipeline stack, which holds it, deploys first.
		AssumedBy:   awsiam.NewArnPrincipal(runnerRoleArn),
		Description: jsii.String("Assumed by the delivery pipeline's smoke test: reads this stack, its REST API credentials and its node services"),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"SmokeTest": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
				awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("cloudformation:DescribeStacks"),
					Resources: &[]*string{cluster.StackId()},
				}),
				awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
					Resources: &[]*string{cluster.Secrets.RestAPICredentials.SecretArn()},
				}),
				awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("ecs:DescribeServices"),
					Resources: &services,
				}),
			}}),
		},
	})
	if second := cluster.SecondRegion; second != nil {
		// The second region's stack deploys after this one and holds its
		// own grant: this stack cannot name that stack's services.
		var secondServices []*string
		for _, n := range second.Nodes {
			secondServices = append(secondServices, n.Service.ServiceArn())
		}
		awsiam.NewPolicy(second.Stack, jsii.String("SmokeTestRolePolicy"), &awsiam.PolicyProps{
			Roles: &[]awsiam.IRole{awsiam.Role_FromRoleName(second.Stack, jsii.String("SmokeTestRole"), jsii.String(stageCfg.SmokeTestRoleName()), nil)},
			Statements: &[]awsiam.PolicyStatement{
				awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("cloudformation:DescribeStacks"),
					Resources: &[]*string{second.Stack.StackId()},
				}),
				awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("ecs:DescribeServices"),
					Resources: &secondServices,
				}),
			},
		})
	}
	return role
}

// outputVariables names each stack output's variable as cmd/smoketest reads
// it: the cluster stack's by outputs.EnvironmentVariable, the second
// region's (same keys, that region's values) by outputs.SecondRegionVariable.
func outputVariables(cluster *stacks.IpfsCluster) *map[string]awscdk.CfnOutput {
	out := make(map[string]awscdk.CfnOutput, len(cluster.Outputs))
	for key, output := range cluster.Outputs {
		out[outputs.EnvironmentVariable(key)] = output
	}
	if second := cluster.SecondRegion; second != nil {
		for key, output := range second.Outputs {
			out[outputs.SecondRegionVariable(key)] = output
		}
	}
	return &out
}
