package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/pipelines"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// The pipeline configuration of these tests: the stages in other accounts,
// production in another region than the pipeline, overrides given both ways
// (a JSON string as from -c, an object as from cdk.json).
const (
	pipelineAccount = "111111111111"
	testAccount     = "222222222222"
	prodAccount     = "333333333333"
	prodRegion      = "eu-central-1"
	connectionArn   = "arn:aws:codeconnections:eu-west-1:111111111111:connection/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f"
	// codestarConnectionArn is the older ARN form of a connection.
	codestarConnectionArn = "arn:aws:codestar-connections:eu-west-1:111111111111:connection/0a1b2c3d-0a1b-4a1b-8a1b-0a1b2c3d4e5f"
	// backupCopyRegion is the other pipeline configuration's copy region.
	backupCopyRegion = "eu-north-1"
	// pipelineSecondRegion is the other pipeline configuration's second
	// region.
	pipelineSecondRegion = "us-east-2"
)

func pipelineSettings() map[string]any {
	return map[string]any{
		config.KeyPipelineAccount:     pipelineAccount,
		config.KeySourceRepository:    "owner/repo",
		config.KeySourceConnectionArn: connectionArn,
		config.KeyTestAccount:         testAccount,
		config.KeyProdAccount:         prodAccount,
		config.KeyProdRegion:          prodRegion,
		config.KeyTestOverrides:       `{"taskMemoryMiB": 2048, "dataRemovalPolicy": "destroy"}`,
		config.KeyProdOverrides:       map[string]any{config.KeyAvailabilityZones: []any{"eu-central-1a", "eu-central-1b", "eu-central-1c"}},
	}
}

// assemblyStack is one stack of a synthesized cloud assembly, read from
// disk: its template and the messages (cdk-nag findings) on it.
type assemblyStack struct {
	artifactID string
	stackName  string
	// environment is aws://<account>/<region>.
	environment string
	template    map[string]any
	messages    []string
}

func (s *assemblyStack) resources(resourceType string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.template["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == resourceType {
			out[id] = r
		}
	}
	return out
}

// readAssembly reads every stack of an assembly directory and its nested
// (stage) assemblies, keyed by artifact ID.
func readAssembly(dir string) (map[string]*assemblyStack, error) {
	stacks, err := loadAssembly(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]*assemblyStack{}
	for id, s := range stacks {
		out[id] = &assemblyStack{artifactID: id, stackName: s.stackName, environment: s.environment, template: s.template, messages: s.messages}
	}
	return out, nil
}

// pipelineApp is the pipeline configuration built and synthesized once.
type pipelineApp struct {
	built  *app.Built
	cdkApp awscdk.App
	stacks map[string]*assemblyStack
	// missing lists context the synth could not answer offline.
	missing []string
	// outDir is the cloud assembly; TestMain removes it with scratch.
	outDir string
}

var sharedPipelineApp *pipelineApp

// synthPipelineApp builds an app with the pipeline settings added to
// cdk.json's context (as `cdk synth -c ...` does) with build (app.BuildAll
// unless given) and synthesizes it.
func synthPipelineApp(settings map[string]any, build func(awscdk.App) (*app.Built, error)) (*pipelineApp, error) {
	cdkApp, outdir, err := newApp(cdkJSONContext(settings))
	if err != nil {
		return nil, err
	}
	if build == nil {
		build = func(a awscdk.App) (*app.Built, error) { return app.BuildAll(a, repoRoot) }
	}
	built, err := build(cdkApp)
	if err != nil {
		return nil, err
	}
	cdkApp.Synth(nil)
	p := &pipelineApp{built: built, cdkApp: cdkApp, outDir: outdir}
	if p.stacks, err = readAssembly(outdir); err != nil {
		return nil, err
	}
	if p.missing, err = missingContext(outdir); err != nil {
		return nil, err
	}
	return p, nil
}

// delivery synthesizes the pipeline configuration on first use and shares
// it (one jsii kernel, one synth; never t.Parallel).
func delivery(t *testing.T) *pipelineApp {
	t.Helper()
	if sharedPipelineApp == nil {
		p, err := synthPipelineApp(pipelineSettings(), nil)
		require.NoError(t, err)
		sharedPipelineApp = p
	}
	return sharedPipelineApp
}

var sharedOtherPipelineApp *pipelineApp

// otherDelivery is the pipeline configuration with the older connection ARN
// form, a backup copy region and a second region, synthesized on first use
// and shared.
func otherDelivery(t *testing.T) *pipelineApp {
	t.Helper()
	if sharedOtherPipelineApp == nil {
		settings := pipelineSettings()
		settings[config.KeySourceConnectionArn] = codestarConnectionArn
		settings[config.KeyBackupCopyRegion] = backupCopyRegion
		settings[config.KeySecondRegion] = pipelineSecondRegion
		settings[config.KeySecondRegionAvailabilityZones] = pipelineSecondRegion + "a," + pipelineSecondRegion + "b," + pipelineSecondRegion + "c"
		p, err := synthPipelineApp(settings, nil)
		require.NoError(t, err)
		sharedOtherPipelineApp = p
	}
	return sharedOtherPipelineApp
}

func (p *pipelineApp) stackOf(t *testing.T, stack awscdk.Stack) *assemblyStack {
	t.Helper()
	s, ok := p.stacks[*stack.ArtifactId()]
	require.True(t, ok, "no artifact %s", *stack.ArtifactId())
	return s
}

// codePipeline returns the Stages of a pipeline stack's one pipeline.
func codePipelineStages(t *testing.T, s *assemblyStack) []any {
	t.Helper()
	pipelines := s.resources("AWS::CodePipeline::Pipeline")
	require.Len(t, pipelines, 1)
	for _, r := range pipelines {
		return list(path(r, "Properties", "Stages"))
	}
	return nil
}

type pipelineAction struct {
	name, category string
	runOrder       int
	config         map[string]any
}

func stageActions(t *testing.T, s *assemblyStack, stageName string) []pipelineAction {
	t.Helper()
	for _, st := range codePipelineStages(t, s) {
		if path(st, "Name") != stageName {
			continue
		}
		var actions []pipelineAction
		for _, a := range list(path(st, "Actions")) {
			cfg, _ := path(a, "Configuration").(map[string]any)
			actions = append(actions, pipelineAction{
				name:     path(a, "Name").(string),
				category: path(a, "ActionTypeId", "Category").(string),
				runOrder: int(path(a, "RunOrder").(float64)),
				config:   cfg,
			})
		}
		sort.SliceStable(actions, func(i, j int) bool { return actions[i].runOrder < actions[j].runOrder })
		return actions
	}
	t.Fatalf("%s has no stage %s", s.stackName, stageName)
	return nil
}

func TestPipelinesAreOnePipelineStackPerBranch(t *testing.T) {
	p := delivery(t)
	require.Nil(t, p.built.Stack, "no standalone cluster stack when the pipelines are on")
	var topLevel []string
	for _, child := range *p.cdkApp.Node().Children() {
		if *awscdk.Stack_IsStack(child) {
			topLevel = append(topLevel, *child.(awscdk.Stack).StackName())
		}
	}
	sort.Strings(topLevel)
	assert.Equal(t, []string{
		"IpfsCluster-pipeline-develop", "IpfsCluster-pipeline-develop-support-us-east-1",
		"IpfsCluster-pipeline-main", "IpfsCluster-pipeline-main-support-eu-central-1", "IpfsCluster-pipeline-main-support-us-east-1",
	}, topLevel, "two pipeline stacks, each with its own cross-region support stacks (ReuseCrossRegionSupportStacks false)")

	for _, tc := range []struct {
		pipeline *pipelines.Pipeline
		branch   string
		stage    string
		env      string
	}{
		{p.built.Delivery.Test, "develop", "Test", "aws://" + testAccount + "/eu-west-1"},
		{p.built.Delivery.Prod, "main", "Prod", "aws://" + prodAccount + "/" + prodRegion},
	} {
		s := p.stackOf(t, tc.pipeline.Stack)
		assert.Equal(t, "aws://"+pipelineAccount+"/eu-west-1", s.environment)
		source := stageActions(t, s, "Source")
		require.Len(t, source, 1)
		assert.Equal(t, tc.branch, source[0].config["BranchName"])
		assert.Equal(t, "owner/repo", source[0].config["FullRepositoryId"])
		assert.Equal(t, connectionArn, source[0].config["ConnectionArn"])

		var names []string
		for _, st := range codePipelineStages(t, s) {
			names = append(names, path(st, "Name").(string))
		}
		assert.Equal(t, []string{"Source", "Build", "UpdatePipeline", "Assets", tc.stage}, names, "self-mutation before the assets and the deployment")
		assert.Equal(t, tc.env, p.stackOf(t, tc.pipeline.Cluster.Stack).environment)
	}
}

func TestPipelineStageOrder(t *testing.T) {
	p := delivery(t)
	for _, tc := range []struct {
		pipeline *pipelines.Pipeline
		stage    string
		approval bool
	}{
		{p.built.Delivery.Test, "Test", false},
		{p.built.Delivery.Prod, "Prod", true},
	} {
		actions := stageActions(t, p.stackOf(t, tc.pipeline.Stack), tc.stage)
		var order []string
		for _, a := range actions {
			switch {
			case a.category == "Approval":
				order = append(order, "approval")
			case a.category == "Deploy" && strings.HasPrefix(a.name, "IpfsCluster."):
				order = append(order, "cluster "+strings.TrimPrefix(a.name, "IpfsCluster."))
			case a.category == "Deploy" && strings.HasPrefix(a.name, "edge-lambda-stack-"):
				order = append(order, "edge "+a.name[strings.LastIndex(a.name, ".")+1:])
			case a.category == "Deploy" && strings.HasPrefix(a.name, "IpfsCluster-edge-monitoring."):
				order = append(order, "edge monitoring "+strings.TrimPrefix(a.name, "IpfsCluster-edge-monitoring."))
			case a.name == pipelines.SmokeTestStep:
				order = append(order, "smoke test")
			default:
				order = append(order, "unexpected "+a.name)
			}
		}
		want := []string{"edge Prepare", "edge Deploy", "cluster Prepare", "cluster Deploy", "edge monitoring Prepare", "edge monitoring Deploy", "smoke test"}
		if tc.approval {
			want = append([]string{"approval"}, want...)
		}
		assert.Equal(t, want, order, "%s stage", tc.stage)
		for i := 1; i < len(actions); i++ {
			assert.Less(t, actions[i-1].runOrder, actions[i].runOrder, "%s: %s runs strictly before %s", tc.stage, actions[i-1].name, actions[i].name)
		}
	}
}

// codeBuildProjects returns the CodeBuild projects of both pipeline stacks
// with their buildspecs parsed.
func codeBuildProjects(t *testing.T, p *pipelineApp) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, pl := range p.built.Delivery.All() {
		s := p.stackOf(t, pl.Stack)
		for id, project := range s.resources("AWS::CodeBuild::Project") {
			raw, ok := path(project, "Properties", "Source", "BuildSpec").(string)
			require.True(t, ok, "%s: buildspec is not inline", id)
			var spec map[string]any
			require.NoError(t, json.Unmarshal([]byte(raw), &spec), id)
			project["buildspec"] = spec
			out[pl.Branch+"/"+id] = project
		}
	}
	return out
}

// codeBuildRuntimes is what each CodeBuild image offers to a buildspec's
// runtime-versions, by runtime. Sources: "Available runtimes",
// https://docs.aws.amazon.com/codebuild/latest/userguide/available-runtimes.html
// (Ubuntu and Amazon Linux platform runtimes), and the images' own
// runtimes.yml in https://github.com/aws/aws-codebuild-docker-images
// (ubuntu/standard/7.0 and al/x86_64/standard/5.0 at commit 0c5eb16,
// "Adding new runtimes x86_64 26.03.25", 2026-04-07). Go 1.24 is listed
// since the image release of October 2025 (commit 08ef1dc), 1.25 and 1.26
// only since March 2026; Node.js 22 since January 2025 (commit 95e7c03).
var codeBuildRuntimes = map[string]map[string][]string{
	"aws/codebuild/standard:7.0": {
		"golang": {"1.20", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26"},
		"nodejs": {"18", "20", "22", "24"},
	},
	"aws/codebuild/amazonlinux-x86_64-standard:5.0": {
		"golang": {"1.20", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26"},
		"nodejs": {"18", "20", "22", "24"},
	},
}

// goModVersion is go.mod's go line.
func goModVersion(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go ([0-9.]+)$`).FindSubmatch(raw)
	require.NotNil(t, m, "go.mod has a go line")
	return string(m[1])
}

// TestEveryCodeBuildProjectBuildsOnWhatItsImageHas: each project (synth,
// self-mutation, assets, smoke test; the partial buildspec is merged into
// all of them) selects only runtimes its image lists, and runs the Go
// toolchain go.mod needs, fetched by the go command rather than expected
// from the image.
func TestEveryCodeBuildProjectBuildsOnWhatItsImageHas(t *testing.T) {
	projects := codeBuildProjects(t, delivery(t))
	kinds := map[string]bool{}
	for id, project := range projects {
		image, _ := path(project, "Properties", "Environment", "Image").(string)
		offered, ok := codeBuildRuntimes[image]
		require.True(t, ok, "%s: image %q has no runtime table here", id, image)
		versions, _ := path(project, "buildspec", "phases", "install", "runtime-versions").(map[string]any)
		assert.ElementsMatch(t, []string{"golang", "nodejs"}, sortedKeys(versions), "%s selects Go and Node.js", id)
		for runtime, version := range versions {
			assert.Contains(t, offered[runtime], fmt.Sprint(version), "%s: %s %v is not on %s", id, runtime, version, image)
		}
		assert.Equal(t, pipelines.GoToolchain, path(project, "buildspec", "env", "variables", "GOTOOLCHAIN"), "%s runs the pinned Go toolchain", id)
		for _, kind := range []string{"Synth", "SelfMutation", "DockerAsset", "FileAsset", "SmokeTest"} {
			if strings.Contains(id, kind) {
				kinds[kind] = true
			}
			if kind == "DockerAsset" && strings.Contains(id, kind) {
				assert.Equal(t, true, path(project, "Properties", "Environment", "PrivilegedMode"), "%s builds images", id)
			}
		}
	}
	assert.Len(t, kinds, 5, "synth, self-mutation, image and file assets, smoke test: %v", kinds)

	// The toolchain is go.mod's Go; the selected Go can switch to it
	// (GOTOOLCHAIN exists since Go 1.21); Node.js runs the aws-cdk CLI and
	// jsii, which calls 20 and older end-of-life.
	toolchain := regexp.MustCompile(`^go([0-9]+\.[0-9]+)\.[0-9]+$`).FindStringSubmatch(pipelines.GoToolchain)
	require.NotNil(t, toolchain, "a released toolchain name: %s", pipelines.GoToolchain)
	assert.Equal(t, goModVersion(t), toolchain[1], "GoToolchain is a release of go.mod's Go")
	var major, minor int
	_, err := fmt.Sscanf(pipelines.GoRuntime, "%d.%d", &major, &minor)
	require.NoError(t, err)
	assert.True(t, major == 1 && minor >= 21, "Go %s cannot switch toolchains", pipelines.GoRuntime)
	var node int
	_, err = fmt.Sscanf(pipelines.NodeRuntime, "%d", &node)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, node, 22)

	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	for _, claim := range []string{"`" + pipelines.BuildImage + "`", "Go " + pipelines.GoRuntime + " and Node.js " + pipelines.NodeRuntime, "`GOTOOLCHAIN=" + pipelines.GoToolchain + "`"} {
		assert.Contains(t, string(readme), claim, "the README says what the pipelines build with")
	}
}

// sourceConnectionGrants returns the actions each pipeline's source action
// role may take on the connection ARN.
func sourceConnectionGrants(t *testing.T, p *pipelineApp, connection string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, pl := range p.built.Delivery.All() {
		s := p.stackOf(t, pl.Stack)
		var roleID string
		for _, st := range codePipelineStages(t, s) {
			if path(st, "Name") == "Source" {
				roleID = ref(path(st, "Actions", 0, "RoleArn"))
			}
		}
		require.NotEmpty(t, roleID, "%s: the source action has a role of its own", pl.Branch)
		for _, st := range roleStatements(s, roleID) {
			raw, _ := json.Marshal(st["Resource"])
			if string(raw) == `"`+connection+`"` || string(raw) == `["`+connection+`"]` {
				out[pl.Branch] = append(out[pl.Branch], actionsOf(st)...)
			}
		}
	}
	return out
}

// TestSourceActionMayUseItsConnection: IAM matches an action's service
// prefix to the connection ARN's, so each ARN form needs its own
// UseConnection (CDK grants only codestar-connections:UseConnection).
func TestSourceActionMayUseItsConnection(t *testing.T) {
	for connection, p := range map[string]*pipelineApp{
		connectionArn:         delivery(t),
		codestarConnectionArn: otherDelivery(t),
	} {
		prefix := strings.SplitN(connection, ":", 4)[2]
		grants := sourceConnectionGrants(t, p, connection)
		require.Len(t, grants, 2, connection)
		for branch, actions := range grants {
			assert.Contains(t, actions, prefix+":UseConnection", "%s: %s", branch, connection)
			for _, action := range actions {
				assert.True(t, strings.HasSuffix(action, ":UseConnection"), "%s: only UseConnection on the connection, got %s", branch, action)
			}
		}
	}
}

func buildCommands(project map[string]any) []string {
	var out []string
	for _, c := range list(path(project, "buildspec", "phases", "build", "commands")) {
		out = append(out, c.(string))
	}
	return out
}

func TestSynthStepRunsTheShortTestsBeforeSynth(t *testing.T) {
	p := delivery(t)
	projects := codeBuildProjects(t, p)
	found := 0
	for id, project := range projects {
		if !strings.Contains(id, "BuildSynthCdkBuildProject") {
			continue
		}
		found++
		commands := buildCommands(project)
		tests := slices.Index(commands, "go test -short ./...")
		synth := slices.Index(commands, "npx --yes aws-cdk@"+pipelines.CDKCLIVersion+" synth")
		require.GreaterOrEqual(t, tests, 0, "%s: %v", id, commands)
		require.GreaterOrEqual(t, synth, 0, "%s: %v", id, commands)
		assert.Less(t, tests, synth, "%s: tests first", id)
		branch := strings.SplitN(id, "/", 2)[0]
		assert.Contains(t, strings.Join(commands[synth+1:], "\n"), "cdk.out/"+pipelines.StackID(defaults.config.StackName, branch)+".template.json", "%s: stops unless the repository's cdk.json configures this pipeline", id)
	}
	assert.Equal(t, 2, found)
}

// TestOneCdkCliVersion: the README's commands and the pipelines use the same
// aws-cdk CLI, named once in code.
func TestOneCdkCliVersion(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	versions := regexp.MustCompile(`aws-cdk@([0-9][0-9.]*[0-9])`).FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, versions)
	for _, v := range versions {
		assert.Equal(t, pipelines.CDKCLIVersion, v[1], "README names another aws-cdk CLI")
	}
	for id, project := range codeBuildProjects(t, delivery(t)) {
		if strings.Contains(id, "SelfMutation") {
			install, _ := json.Marshal(path(project, "buildspec", "phases", "install", "commands"))
			assert.Contains(t, string(install), "aws-cdk@"+pipelines.CDKCLIVersion, "%s installs the same CLI", id)
		}
	}
}

// statements returns the statements of every IAM policy attached to a role
// (inline in the role or AWS::IAM::Policy resources naming it).
func roleStatements(s *assemblyStack, roleID string) []map[string]any {
	var out []map[string]any
	add := func(doc any) {
		for _, st := range list(path(doc, "Statement")) {
			out = append(out, st.(map[string]any))
		}
	}
	for _, p := range list(path(s.template, "Resources", roleID, "Properties", "Policies")) {
		add(path(p, "PolicyDocument"))
	}
	for _, policy := range s.resources("AWS::IAM::Policy") {
		for _, r := range list(path(policy, "Properties", "Roles")) {
			if ref(r) == roleID {
				add(path(policy, "Properties", "PolicyDocument"))
			}
		}
	}
	return out
}

func actionsOf(st map[string]any) []string {
	switch a := st["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func TestSmokeTestReadsExactlyItsStackSecretAndServices(t *testing.T) {
	p := delivery(t)
	for _, pl := range p.built.Delivery.All() {
		stage := pl.Cluster.Stack
		cluster := p.stackOf(t, stage)

		// In the stage's account: the role the smoke test assumes.
		roleID := *stage.GetLogicalId(pl.SmokeTestRole.Node().DefaultChild().(awscdk.CfnElement))
		role := path(cluster.template, "Resources", roleID, "Properties")
		cfgName := stage.StackName()
		assert.Equal(t, *cfgName+"-smoke-test", path(role, "RoleName"))
		// Trusted by the smoke test's CodeBuild role alone, not by the
		// whole pipeline account.
		runnerName := pipelines.SmokeTestRunnerRoleName(*pl.Stack.StackName())
		trust := list(path(role, "AssumeRolePolicyDocument", "Statement"))
		require.Len(t, trust, 1)
		assert.Equal(t, "sts:AssumeRole", path(trust[0], "Action"))
		assert.Nil(t, path(trust[0], "Condition"))
		principal, _ := json.Marshal(path(trust[0], "Principal"))
		assert.Regexp(t, `^\{"AWS":"arn:aws:iam::`+pipelineAccount+`:role/`+regexp.QuoteMeta(runnerName)+`"\}$`, string(principal))
		assert.Nil(t, path(role, "ManagedPolicyArns"))

		secretID := *stage.GetLogicalId(pl.Cluster.Secrets.RestAPICredentials.Node().DefaultChild().(awscdk.CfnElement))
		var services []any
		for id := range cluster.resources("AWS::ECS::Service") {
			services = append(services, map[string]any{"Ref": id})
		}
		require.Len(t, services, 3)
		got := map[string][]any{}
		for _, st := range roleStatements(cluster, roleID) {
			assert.Equal(t, "Allow", st["Effect"])
			assert.Nil(t, st["Condition"])
			actions := actionsOf(st)
			require.Len(t, actions, 1, "one action per statement: %v", st)
			resources, ok := st["Resource"].([]any)
			if !ok {
				resources = []any{st["Resource"]}
			}
			got[actions[0]] = append(got[actions[0]], resources...)
		}
		sortRefs := func(l []any) []any {
			sort.Slice(l, func(i, j int) bool { return fmt.Sprint(l[i]) < fmt.Sprint(l[j]) })
			return l
		}
		assert.Equal(t, map[string][]any{
			"cloudformation:DescribeStacks": {map[string]any{"Ref": "AWS::StackId"}},
			"secretsmanager:GetSecretValue": {map[string]any{"Ref": secretID}},
			"ecs:DescribeServices":          sortRefs(services),
		}, map[string][]any{
			"cloudformation:DescribeStacks": got["cloudformation:DescribeStacks"],
			"secretsmanager:GetSecretValue": got["secretsmanager:GetSecretValue"],
			"ecs:DescribeServices":          sortRefs(got["ecs:DescribeServices"]),
		})
		assert.Len(t, got, 3, "exactly three actions: %v", got)

		// In the pipeline account: the CodeBuild project may only assume
		// that role, besides CodeBuild's own logs, reports and artifacts.
		pipelineStack := p.stackOf(t, pl.Stack)
		var smokeProject map[string]any
		for id, project := range pipelineStack.resources("AWS::CodeBuild::Project") {
			if strings.Contains(id, "SmokeTest") {
				smokeProject = project
			}
		}
		require.NotNil(t, smokeProject)
		runnerRole := ref(path(smokeProject, "Properties", "ServiceRole"))
		assert.Equal(t, runnerName, path(pipelineStack.template, "Resources", runnerRole, "Properties", "RoleName"), "the project runs as the role the stage trusts")
		var assumes []string
		for _, st := range roleStatements(pipelineStack, runnerRole) {
			for _, action := range actionsOf(st) {
				service := strings.SplitN(action, ":", 2)[0]
				assert.Contains(t, []string{"logs", "codebuild", "s3", "kms", "sts"}, service, "unexpected grant %s", action)
				if action == "sts:AssumeRole" {
					raw, _ := json.Marshal(st["Resource"])
					assumes = append(assumes, string(raw))
				}
				if service == "s3" {
					assert.NotContains(t, action, "Put", "reads artifacts only")
				}
			}
		}
		account := testAccount
		if pl == p.built.Delivery.Prod {
			account = prodAccount
		}
		require.Len(t, assumes, 1)
		assert.Contains(t, assumes[0], ":iam::"+account+":role/"+*cfgName+"-smoke-test")

		// The stack's outputs reach the step as variables named after them.
		actions := stageActions(t, pipelineStack, *pl.Stage.StageName())
		smoke := actions[len(actions)-1]
		var env []struct{ Name, Value string }
		require.NoError(t, json.Unmarshal([]byte(smoke.config["EnvironmentVariables"].(string)), &env))
		names := map[string]string{}
		for _, e := range env {
			names[e.Name] = e.Value
		}
		for _, key := range []string{outputs.GatewayURL, outputs.RestAPIURL, outputs.RestAPICredentialsSecretName, outputs.EcsClusterName, outputs.NodeServiceNames, outputs.ReplicationFactorMin} {
			assert.Regexp(t, `^#\{[A-Za-z0-9]+\.`+key+`\}$`, names[outputs.EnvironmentVariable(key)], "output %s as the smoke test reads it", key)
		}
		commands := buildCommands(codeBuildProjectByID(t, p, pl, "SmokeTest"))
		assert.Contains(t, strings.Join(commands, "\n"), "go run ./cmd/smoketest -stack "+*cfgName+" -region "+*stage.Region()+` -role-arn "$SMOKE_TEST_ROLE_ARN"`)
	}
}

func codeBuildProjectByID(t *testing.T, p *pipelineApp, pl *pipelines.Pipeline, contains string) map[string]any {
	t.Helper()
	for id, project := range codeBuildProjects(t, p) {
		if strings.HasPrefix(id, pl.Branch+"/") && strings.Contains(id, contains) {
			return project
		}
	}
	t.Fatalf("no %s project in %s", contains, pl.Branch)
	return nil
}

func TestStagesUseTheirOwnConfiguration(t *testing.T) {
	p := delivery(t)
	test := p.stackOf(t, p.built.Delivery.Test.Cluster.Stack)
	prod := p.stackOf(t, p.built.Delivery.Prod.Cluster.Stack)
	for name, tc := range map[string]struct {
		s        *assemblyStack
		memory   string
		deletion string
		zones    []string
	}{
		"test": {test, "2048", "Delete", []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}},
		"prod": {prod, "4096", "RetainExceptOnCreate", []string{"eu-central-1a", "eu-central-1b", "eu-central-1c"}},
	} {
		for id, task := range tc.s.resources("AWS::ECS::TaskDefinition") {
			if strings.Contains(id, "MaintenanceTask") {
				continue // a fixed small size, run by hand
			}
			assert.Equal(t, tc.memory, path(task, "Properties", "Memory"), "%s %s", name, id)
		}
		for id, fs := range tc.s.resources("AWS::EFS::FileSystem") {
			assert.Equal(t, tc.deletion, fs["DeletionPolicy"], "%s %s", name, id)
		}
		var zones []string
		for _, subnet := range tc.s.resources("AWS::EC2::Subnet") {
			if z, ok := path(subnet, "Properties", "AvailabilityZone").(string); ok && !slices.Contains(zones, z) {
				zones = append(zones, z)
			}
		}
		sort.Strings(zones)
		assert.Equal(t, tc.zones, zones, "%s: the configured zones, not a lookup", name)
	}
	assert.Empty(t, p.missing, "synth needed context lookups (AWS credentials): %v", p.missing)
}

// nagFindings lists the cdk-nag errors and warnings on the given stacks.
func nagFindings(stacks map[string]*assemblyStack) []string {
	var out []string
	for _, s := range stacks {
		for _, m := range s.messages {
			if strings.Contains(m, "AwsSolutions-") {
				out = append(out, s.stackName+": "+m)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestNoCdkNagFindingsInPipelinesAndStages(t *testing.T) {
	p := delivery(t)
	assert.Empty(t, nagFindings(p.stacks))
	var names []string
	for _, s := range p.stacks {
		names = append(names, s.stackName)
	}
	sort.Strings(names)
	// Every stack was read; TestCdkNagRunsInsideTheStages proves the checks
	// run inside the stages, where zero findings could otherwise mean none ran.
	assert.Len(t, names, 11, "two pipeline stacks, three support stacks, two cluster stacks, their two edge stacks and two edge monitoring stacks: %v", names)
	// With a backup copy region and a second region too.
	assert.Empty(t, nagFindings(otherDelivery(t).stacks))
}

// TestCdkNagRunsInsideTheStages plants a finding in a stage's cluster stack
// (a bucket that allows plain HTTP and has no access logs) in a separate app
// with no cdk-nag of its own, and expects the checks to report it: proof
// that the pipelines put cdk-nag inside their stages, which an App's aspect
// does not reach.
func TestCdkNagRunsInsideTheStages(t *testing.T) {
	planted, err := synthPipelineApp(pipelineSettings(), func(cdkApp awscdk.App) (*app.Built, error) {
		cfg, err := config.Parse(app.ReadContext(cdkApp.Node()))
		if err != nil {
			return nil, err
		}
		d, err := pipelines.New(cdkApp, &pipelines.Props{Config: cfg, SourceDir: repoRoot, ExtendStage: func(stage string, cluster *stacks.IpfsCluster) {
			if stage == pipelines.ProdStage {
				awss3.NewBucket(cluster.Stack, jsii.String("PlantedBucket"), nil)
			}
		}})
		return &app.Built{Delivery: d}, err
	})
	require.NoError(t, err)
	findings := strings.Join(nagFindings(planted.stacks), "\n")
	assert.Contains(t, findings, "/Prod/IpfsCluster/PlantedBucket/Resource: AwsSolutions-S10:")
	assert.Contains(t, findings, "/Prod/IpfsCluster/PlantedBucket/Resource: AwsSolutions-S1:")
	assert.NotContains(t, findings, "IpfsCluster-pipeline-develop", "only the planted bucket is a finding")
}

// TestDefaultConfigurationHasNoPipelines: without pipeline settings the app
// is what the README's synth gives: the cluster stack and its edge stack.
func TestDefaultConfigurationHasNoPipelines(t *testing.T) {
	assert.Nil(t, defaults.config.Pipeline)
	var names []string
	for _, child := range *defaults.cdkApp.Node().Children() {
		if *awscdk.Stack_IsStack(child) {
			names = append(names, *child.(awscdk.Stack).StackName())
		} else if *child.Node().Id() != "Tree" { // synth's tree metadata
			assert.Fail(t, "unexpected construct in the app", *child.Node().Id())
		}
	}
	require.Len(t, names, 3)
	sort.Strings(names)
	assert.Equal(t, "IpfsCluster", names[0])
	assert.Equal(t, "IpfsCluster-edge-monitoring", names[1])
	assert.Regexp(t, `^edge-lambda-stack-[0-9a-f]+$`, names[2])
	assert.True(t, *awscdk.Token_IsUnresolved(defaults.stack.Account()), "environment-agnostic: no account")
}

// TestStandaloneStackWithAnAccountSynthesizesOffline: `cdk synth -c
// account=<id>` answers the zone lookup from the configuration too.
func TestStandaloneStackWithAnAccountSynthesizesOffline(t *testing.T) {
	withAccount, err := synthPipelineApp(map[string]any{config.KeyAccount: "444444444444"}, nil)
	require.NoError(t, err)
	require.NotNil(t, withAccount.built.Stack)
	assert.Nil(t, withAccount.built.Delivery)
	assert.Empty(t, withAccount.missing, "synth needed context lookups (AWS credentials)")
	assert.Equal(t, "aws://444444444444/eu-west-1", withAccount.stackOf(t, withAccount.built.Stack.Stack).environment)
}

// TestBackupCopyRegionIsAPipelineRegion: with backupCopyRegion, each stage
// deploys a stack into that region too, and the pipeline gets a
// cross-region support stack there: the README's one-time set-up
// bootstraps that region in the pipeline account and in each target
// account.
func TestBackupCopyRegionIsAPipelineRegion(t *testing.T) {
	p := otherDelivery(t)
	envs := map[string]bool{}
	for _, s := range p.stacks {
		envs[s.environment] = true
	}
	for _, account := range []string{testAccount, prodAccount} {
		assert.True(t, envs["aws://"+account+"/"+backupCopyRegion], "a stage stack in %s/%s: %v", account, backupCopyRegion, sortedKeys(envs))
	}
	var names []string
	for _, child := range *p.cdkApp.Node().Children() {
		if *awscdk.Stack_IsStack(child) {
			names = append(names, *child.(awscdk.Stack).StackName())
		}
	}
	for _, pl := range p.built.Delivery.All() {
		assert.Contains(t, names, *pl.Stack.StackName()+"-support-"+backupCopyRegion)
	}
	for _, s := range p.stacks {
		if strings.HasSuffix(s.stackName, "-support-"+backupCopyRegion) {
			assert.Equal(t, "aws://"+pipelineAccount+"/"+backupCopyRegion, s.environment, s.stackName)
		}
	}

	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	setup := string(readme)
	setup = setup[strings.Index(setup, "### One-time set-up"):]
	setup = setup[:strings.Index(setup, "\n### ")]
	assert.Contains(t, setup, "aws://<pipeline account>/<backupCopyRegion>")
	assert.Contains(t, setup, "aws://<test account>/<backupCopyRegion>")
}

// TestStagesDeployTheSecondRegion: each stage deploys the second region's
// stacks in that region of its account, and the smoke test gets that
// region's outputs and may read its services.
func TestStagesDeployTheSecondRegion(t *testing.T) {
	p := otherDelivery(t)
	for _, pl := range p.built.Delivery.All() {
		second := pl.Cluster.SecondRegion
		require.NotNil(t, second, pl.Branch)
		account := testAccount
		if pl == p.built.Delivery.Prod {
			account = prodAccount
		}
		for _, st := range []awscdk.Stack{second.Network, second.Stack} {
			assert.Equal(t, "aws://"+account+"/"+pipelineSecondRegion, p.stackOf(t, st).environment, *st.StackName())
		}

		// The second region's stack grants the smoke-test role (a fixed
		// name in this account) reads of its own services.
		stack := p.stackOf(t, second.Stack)
		var services []any
		for id := range stack.resources("AWS::ECS::Service") {
			services = append(services, map[string]any{"Ref": id})
		}
		require.NotEmpty(t, services)
		policies := stack.resources("AWS::IAM::Policy")
		var grant map[string]any
		for id, policy := range policies {
			if strings.HasPrefix(id, "SmokeTestRolePolicy") {
				grant = policy
			}
		}
		require.NotNil(t, grant, "no smoke-test grant in the second region's stack")
		assert.Equal(t, []any{*pl.Cluster.StackName() + "-smoke-test"}, path(grant, "Properties", "Roles"))
		granted := map[string]any{}
		for _, st := range list(path(grant, "Properties", "PolicyDocument", "Statement")) {
			for _, action := range actionsOf(st.(map[string]any)) {
				granted[action] = path(st, "Resource")
			}
		}
		assert.ElementsMatch(t, services, granted["ecs:DescribeServices"])
		assert.Equal(t, map[string]any{"Ref": "AWS::StackId"}, granted["cloudformation:DescribeStacks"])
		assert.Len(t, granted, 2)

		// The step gets where the second region is and its outputs.
		actions := stageActions(t, p.stackOf(t, pl.Stack), *pl.Stage.StageName())
		smoke := actions[len(actions)-1]
		var env []struct{ Name, Value string }
		require.NoError(t, json.Unmarshal([]byte(smoke.config["EnvironmentVariables"].(string)), &env))
		names := map[string]string{}
		for _, e := range env {
			names[e.Name] = e.Value
		}
		for _, name := range []string{
			outputs.EnvironmentVariable(outputs.SecondRegion), outputs.EnvironmentVariable(outputs.SecondRegionStackName),
			outputs.SecondRegionVariable(outputs.EcsClusterName), outputs.SecondRegionVariable(outputs.NodeServiceNames),
		} {
			assert.Regexp(t, `^#\{[A-Za-z0-9]+\.[A-Za-z]+\}$`, names[name], "%s reaches the smoke test", name)
		}
	}

	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	setup := string(readme)
	setup = setup[strings.Index(setup, "### One-time set-up"):]
	setup = setup[:strings.Index(setup, "\n### ")]
	assert.Contains(t, setup, "aws://<pipeline account>/<secondRegion>")
	assert.Contains(t, setup, "aws://<test account>/<secondRegion>")
}
