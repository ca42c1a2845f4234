// Command smoketest checks a deployed cluster stack after each deployment:
// it reads the stack's outputs (CloudFormation), the REST API credentials
// (Secrets Manager) and each node service's running count (ECS), then runs
// the HTTP checks of package smoketest through the CloudFront URLs. It
// prints one line per check with its timing, exits 1 on any failure (2 on a
// usage error) and never prints a secret.
//
// Run it by hand against any deployed stack, with AWS credentials in the
// usual places (environment, profile, SSO):
//
//	go run ./cmd/smoketest -stack IpfsCluster -region eu-west-1
//
// Flags, with their environment fallbacks:
//
//	-stack NAME          SMOKETEST_STACK           the cluster stack
//	-region REGION       SMOKETEST_REGION, then AWS_REGION
//	-timeout DURATION    (default 15m)             bounds the whole run; the
//	                                               final unpin gets -wait more
//	-wait DURATION       (default 5m)              bounds each wait (services
//	                                               running, peers, pin, reads)
//	-private-gateway     SMOKETEST_PRIVATE_GATEWAY=true: send the REST API
//	                     credentials to the gateway too (privateGateway=true)
//	-role-arn ARN        SMOKETEST_ROLE_ARN        assume this role for every
//	                                               AWS call (e.g. a role in the
//	                                               stack's account)
//
// # Outputs from the environment
//
// Each stack output the test needs may instead come from an environment
// variable named after the output key in SCREAMING_SNAKE form (see the
// env* constants: GatewayUrl -> GATEWAY_URL, RestApiUrl -> REST_API_URL,
// RestApiCredentialsSecretName -> REST_API_CREDENTIALS_SECRET_NAME,
// EcsClusterName -> ECS_CLUSTER_NAME, NodeServiceNames -> NODE_SERVICE_NAMES,
// ReplicationFactorMin -> REPLICATION_FACTOR_MIN). A CDK Pipelines post step
// gets them with EnvFromCfnOutputs. A variable that is set wins over the
// stack; DescribeStacks is called only if one is missing (then -stack is
// required, and the stack must be in CREATE_, UPDATE_ or IMPORT_COMPLETE).
//
// # A second region
//
// When the stack has the SecondRegion output (secondRegion set), the smoke
// test also reads the second region's stack (SecondRegionStackName, in that
// region) for its EcsClusterName and NodeServiceNames — or takes them from
// SECOND_REGION_ECS_CLUSTER_NAME and SECOND_REGION_NODE_SERVICE_NAMES —,
// waits for those services there (second-region-ecs-services), expects the
// peers of both regions in /peers, checks the REST API through the second
// region (SecondRegionRestApiUrl: standby-api), and requires the added
// bytes to be pinned in each region. The role then also needs
// cloudformation:DescribeStacks on that stack and ecs:DescribeServices on
// its node services.
//
// # IAM
//
// The least privilege it needs:
//
//	cloudformation:DescribeStacks   on the stack (not needed when every
//	                                output comes from the environment)
//	secretsmanager:GetSecretValue   on the REST API credentials secret
//	                                (plus kms:Decrypt if it uses a customer key)
//	ecs:DescribeServices            on the node services of the stack's cluster
//
// The credentials secret is encrypted with the AWS managed key, which only
// its own account can use: from another account (a pipeline's), give
// -role-arn a role in the stack's account holding those permissions; the
// caller then needs only sts:AssumeRole on it.
//
// Everything else goes over HTTPS to the CloudFront distributions with the
// REST API's basic credentials.
//
// # Against the local cluster
//
//	go run ./cmd/smoketest -local [-root DIR] [-peers N] [-c key=value ...]
//
// runs every HTTP check against the local cluster of cmd/localcluster
// through its local edge (127.0.N.10, N = LOCALCLUSTER_NET), and makes no
// AWS call: the root (default .localcluster; give the -peers and -c that
// `localcluster up` got) replaces the stack outputs, its secrets.env the
// credentials secret, and the local-processes check (every peer's kubo and
// cluster peer and the edge running) the ECS one. cloudfront-cache-hit is
// skipped: the local edge has no cache. -wait defaults to 1m and -timeout
// to 5m there; -stack, -region and -role-arn do not apply.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/smoketest"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// Environment fallbacks of the flags.
const (
	envStack          = "SMOKETEST_STACK"
	envRegion         = "SMOKETEST_REGION"
	envAWSRegion      = "AWS_REGION"
	envPrivateGateway = "SMOKETEST_PRIVATE_GATEWAY"
	envRoleARN        = "SMOKETEST_ROLE_ARN"
)

// Environment variables that may carry the stack's outputs: the output key
// in SCREAMING_SNAKE form.
var (
	envGatewayURL                   = outputs.EnvironmentVariable(outputs.GatewayURL)
	envRestAPIURL                   = outputs.EnvironmentVariable(outputs.RestAPIURL)
	envRestAPICredentialsSecretName = outputs.EnvironmentVariable(outputs.RestAPICredentialsSecretName)
	envEcsClusterName               = outputs.EnvironmentVariable(outputs.EcsClusterName)
	envNodeServiceNames             = outputs.EnvironmentVariable(outputs.NodeServiceNames)
	envReplicationFactorMin         = outputs.EnvironmentVariable(outputs.ReplicationFactorMin)
)

// Where the second region's stack is (outputs of the first region's stack,
// present only with a second region), and that stack's outputs the smoke
// test reads.
var (
	envSecondRegion           = outputs.EnvironmentVariable(outputs.SecondRegion)
	envSecondRegionStackName  = outputs.EnvironmentVariable(outputs.SecondRegionStackName)
	envSecondRegionRestAPIURL = outputs.EnvironmentVariable(outputs.SecondRegionRestAPIURL)
	secondRegionNeeded        = []struct{ key, env string }{
		{outputs.EcsClusterName, outputs.SecondRegionVariable(outputs.EcsClusterName)},
		{outputs.NodeServiceNames, outputs.SecondRegionVariable(outputs.NodeServiceNames)},
	}
)

// needed are the outputs the smoke test reads, with their variables.
var needed = []struct{ key, env string }{
	{outputs.GatewayURL, envGatewayURL},
	{outputs.RestAPIURL, envRestAPIURL},
	{outputs.RestAPICredentialsSecretName, envRestAPICredentialsSecretName},
	{outputs.EcsClusterName, envEcsClusterName},
	{outputs.NodeServiceNames, envNodeServiceNames},
	{outputs.ReplicationFactorMin, envReplicationFactorMin},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	load := func(ctx context.Context, region string) (aws.Config, error) {
		return config.LoadDefaultConfig(ctx, config.WithRegion(region))
	}
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, load, &http.Client{Timeout: time.Minute}))
}

// The AWS calls it makes (the SDK clients satisfy these).
type (
	stacksAPI interface {
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	}
	secretsAPI interface {
		GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	}
	servicesAPI interface {
		DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	}
)

type options struct {
	stack, region  string
	roleARN        string
	timeout, wait  time.Duration
	privateGateway bool
	local          localOptions
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("smoketest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	region := getenv(envRegion)
	if region == "" {
		region = getenv(envAWSRegion)
	}
	private, _ := strconv.ParseBool(getenv(envPrivateGateway))
	fs.StringVar(&o.stack, "stack", getenv(envStack), "cluster stack name (env "+envStack+")")
	fs.StringVar(&o.region, "region", region, "region of the stack (env "+envRegion+", then "+envAWSRegion+")")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "bound of the whole run")
	fs.DurationVar(&o.wait, "wait", 5*time.Minute, "bound of each wait")
	fs.StringVar(&o.roleARN, "role-arn", getenv(envRoleARN), "assume this role for the AWS calls (env "+envRoleARN+")")
	fs.BoolVar(&o.privateGateway, "private-gateway", private, "send the REST API credentials to the gateway too (env "+envPrivateGateway+")")
	o.local.flags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.local.enabled {
		return o, o.local.check(fs, &o)
	}
	if o.region == "" {
		return o, errors.New("no region: give -region, " + envRegion + " or " + envAWSRegion)
	}
	if o.timeout <= 0 || o.wait <= 0 {
		return o, errors.New("-timeout and -wait must be positive")
	}
	return o, nil
}

// printer writes the result lines and remembers failures.
type printer struct {
	w      io.Writer
	failed bool
}

func (p *printer) result(r smoketest.Result) {
	if r.Status == smoketest.Fail {
		p.failed = true
	}
	_, _ = fmt.Fprintln(p.w, r)
}

// finish says how the run went and returns the exit code.
func (p *printer) finish(stderr io.Writer) int {
	if p.failed {
		_, _ = fmt.Fprintln(stderr, "smoketest: FAILED")
		return 1
	}
	_, _ = fmt.Fprintln(stderr, "smoketest: passed")
	return 0
}

// step runs one AWS-side check as a result line.
func (p *printer) step(name string, f func() (string, error)) bool {
	start := time.Now()
	detail, err := f()
	r := smoketest.Result{Name: name, Status: smoketest.OK, Duration: time.Since(start), Detail: detail}
	if err != nil {
		r.Status, r.Detail = smoketest.Fail, err.Error()
	}
	p.result(r)
	return err == nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer,
	loadAWS func(context.Context, string) (aws.Config, error), httpClient *http.Client) int {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			_, _ = fmt.Fprintln(stderr, "smoketest:", err)
		}
		return 2
	}
	if o.local.enabled {
		return runLocal(ctx, o, stdout, stderr, httpClient)
	}
	out := map[string]string{}
	var missing []string
	for _, n := range needed {
		if v := getenv(n.env); v != "" {
			out[n.key] = v
		} else {
			missing = append(missing, n.env)
		}
	}
	for _, n := range []struct{ key, env string }{{outputs.SecondRegion, envSecondRegion}, {outputs.SecondRegionStackName, envSecondRegionStackName}, {outputs.SecondRegionRestAPIURL, envSecondRegionRestAPIURL}} {
		if v := getenv(n.env); v != "" {
			out[n.key] = v
		}
	}
	if len(missing) > 0 && o.stack == "" {
		_, _ = fmt.Fprintf(stderr, "smoketest: no stack: give -stack or %s, or set %s\n", envStack, strings.Join(missing, ", "))
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	cfg, err := loadAWS(ctx, o.region)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "smoketest: AWS configuration:", err)
		return 1
	}
	if o.roleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), o.roleARN,
			func(a *stscreds.AssumeRoleOptions) { a.RoleSessionName = "smoketest" }))
	}
	p := &printer{w: stdout}
	var st stackFacts
	ok := p.step("stack-outputs", func() (string, error) {
		detail := "every output from the environment"
		if len(missing) > 0 {
			if detail, err = stackOutputs(ctx, cloudformation.NewFromConfig(cfg), o.stack, out); err != nil {
				return "", err
			}
		}
		st, err = parseOutputs(out)
		return detail, err
	})
	if !ok {
		return p.finish(stderr)
	}
	var user, pass string
	credsOK := p.step("rest-api-credentials", func() (string, error) {
		var err error
		user, pass, err = restAPICredentials(ctx, secretsmanager.NewFromConfig(cfg), st.secretName)
		return "username and password read from secret " + st.secretName, err
	})
	p.step("ecs-services", func() (string, error) {
		return servicesRunning(ctx, ecs.NewFromConfig(cfg), st.cluster, st.services, o.wait)
	})
	peers := len(st.services)
	var peerRegions map[string]string
	if second := out[outputs.SecondRegion]; second != "" {
		remote := cfg.Copy()
		remote.Region = second
		var secondServices []string
		ok := p.step("second-region-stack-outputs", func() (string, error) {
			var detail string
			secondServices, st.secondCluster, detail, err = secondRegionOutputs(ctx, cloudformation.NewFromConfig(remote), out[outputs.SecondRegionStackName], getenv)
			return detail, err
		})
		if ok {
			p.step("second-region-ecs-services", func() (string, error) {
				return servicesRunning(ctx, ecs.NewFromConfig(remote), st.secondCluster, secondServices, o.wait)
			})
		}
		peerRegions = map[string]string{}
		for i := range st.services {
			peerRegions[nodespec.PeerName(i)] = o.region
		}
		for k := range secondServices {
			peerRegions[nodespec.PeerName(nodespec.SecondRegionFirstIndex+k)] = second
		}
		peers += len(secondServices)
	}
	if !credsOK {
		p.result(smoketest.Result{Name: "http-checks", Status: smoketest.Skipped, Detail: "no REST API credentials"})
		return p.finish(stderr)
	}
	_, err = smoketest.Run(ctx, smoketest.Config{
		GatewayURL: st.gatewayURL, APIURL: st.apiURL,
		Username: user, Password: pass, GatewayAuth: o.privateGateway,
		ExpectedPeers: peers, ReplicationFactorMin: st.rfMin, PeerRegions: peerRegions,
		StandbyAPIURL: out[outputs.SecondRegionRestAPIURL], StandbyRegion: out[outputs.SecondRegion],
		Wait: o.wait, HTTP: httpClient, CloudFront: true,
		OnResult: p.result,
	})
	if err != nil {
		p.result(smoketest.Result{Name: "http-checks", Status: smoketest.Fail, Detail: err.Error()})
	}
	return p.finish(stderr)
}

// completeStatuses are the states of a stack whose last operation succeeded.
var completeStatuses = []cfntypes.StackStatus{
	cfntypes.StackStatusCreateComplete, cfntypes.StackStatusUpdateComplete, cfntypes.StackStatusImportComplete,
}

// stackOutputs fills the outputs the environment did not give from
// DescribeStacks.
func stackOutputs(ctx context.Context, api stacksAPI, stack string, out map[string]string) (string, error) {
	res, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return "", fmt.Errorf("DescribeStacks %s: %w", stack, err)
	}
	if len(res.Stacks) != 1 {
		return "", fmt.Errorf("DescribeStacks %s: %d stacks, want 1", stack, len(res.Stacks))
	}
	s := res.Stacks[0]
	if !slices.Contains(completeStatuses, s.StackStatus) {
		return "", fmt.Errorf("stack %s is %s, want one of %v", stack, s.StackStatus, completeStatuses)
	}
	fromStack := 0
	for _, o := range s.Outputs {
		k := aws.ToString(o.OutputKey)
		if _, given := out[k]; given {
			continue
		}
		switch {
		case isNeeded(k):
			fromStack++
		case k == outputs.SecondRegion || k == outputs.SecondRegionStackName || k == outputs.SecondRegionRestAPIURL:
		default:
			continue
		}
		out[k] = aws.ToString(o.OutputValue)
	}
	var lacking []string
	for _, n := range needed {
		if out[n.key] == "" {
			lacking = append(lacking, n.key)
		}
	}
	if len(lacking) > 0 {
		return "", fmt.Errorf("stack %s lacks the outputs %s", stack, strings.Join(lacking, ", "))
	}
	return fmt.Sprintf("%d from stack %s (%s), %d from the environment", fromStack, stack, s.StackStatus, len(needed)-fromStack), nil
}

func isNeeded(key string) bool {
	return slices.ContainsFunc(needed, func(n struct{ key, env string }) bool { return n.key == key })
}

// stackFacts are the outputs, parsed.
type stackFacts struct {
	gatewayURL, apiURL, secretName, cluster string
	services                                []string
	rfMin                                   int
	secondCluster                           string
}

// secondRegionOutputs reads the second region's ECS cluster and node
// services: from the environment (a pipeline step), else from its stack.
func secondRegionOutputs(ctx context.Context, api stacksAPI, stack string, getenv func(string) string) (services []string, cluster, detail string, err error) {
	out := map[string]string{}
	var missing []string
	for _, n := range secondRegionNeeded {
		if v := getenv(n.env); v != "" {
			out[n.key] = v
		} else {
			missing = append(missing, n.key)
		}
	}
	detail = "from the environment"
	if len(missing) > 0 {
		if stack == "" {
			return nil, "", "", fmt.Errorf("no %s output to read %s from", outputs.SecondRegionStackName, strings.Join(missing, ", "))
		}
		res, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
		if err != nil {
			return nil, "", "", fmt.Errorf("DescribeStacks %s: %w", stack, err)
		}
		if len(res.Stacks) != 1 || !slices.Contains(completeStatuses, res.Stacks[0].StackStatus) {
			return nil, "", "", fmt.Errorf("stack %s is not one stack in one of %v", stack, completeStatuses)
		}
		for _, o := range res.Stacks[0].Outputs {
			if k := aws.ToString(o.OutputKey); out[k] == "" {
				out[k] = aws.ToString(o.OutputValue)
			}
		}
		detail = "from stack " + stack
	}
	for _, s := range strings.Split(out[outputs.NodeServiceNames], ",") {
		if s = strings.TrimSpace(s); s != "" {
			services = append(services, s)
		}
	}
	if len(services) == 0 || out[outputs.EcsClusterName] == "" {
		return nil, "", "", fmt.Errorf("the second region's %s and %s are required (%s)", outputs.EcsClusterName, outputs.NodeServiceNames, detail)
	}
	return services, out[outputs.EcsClusterName], fmt.Sprintf("%d services in %s, %s", len(services), out[outputs.EcsClusterName], detail), nil
}

func parseOutputs(out map[string]string) (stackFacts, error) {
	st := stackFacts{
		gatewayURL: out[outputs.GatewayURL], apiURL: out[outputs.RestAPIURL],
		secretName: out[outputs.RestAPICredentialsSecretName], cluster: out[outputs.EcsClusterName],
	}
	for _, s := range strings.Split(out[outputs.NodeServiceNames], ",") {
		if s = strings.TrimSpace(s); s != "" {
			st.services = append(st.services, s)
		}
	}
	if len(st.services) == 0 {
		return st, fmt.Errorf("%s names no service", outputs.NodeServiceNames)
	}
	var err error
	if st.rfMin, err = strconv.Atoi(out[outputs.ReplicationFactorMin]); err != nil {
		return st, fmt.Errorf("%s %q is not a number", outputs.ReplicationFactorMin, out[outputs.ReplicationFactorMin])
	}
	return st, nil
}

// restAPICredentials reads the REST API secret, {"username": ..., "password": ...}.
// Its errors never quote the value.
func restAPICredentials(ctx context.Context, api secretsAPI, name string) (string, string, error) {
	res, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return "", "", fmt.Errorf("GetSecretValue %s: %w", name, err)
	}
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	// json's errors may quote part of the input: report none of them.
	if json.Unmarshal([]byte(aws.ToString(res.SecretString)), &v) != nil || v.Username == "" || v.Password == "" {
		return "", "", fmt.Errorf("secret %s is not JSON with a username and a password", name)
	}
	return v.Username, v.Password, nil
}

// describeBatch is DescribeServices' limit of services per call.
const describeBatch = 10

// servicesRunning waits, within wait, until every service runs as many
// tasks as it wants, at least one.
func servicesRunning(ctx context.Context, api servicesAPI, cluster string, services []string, wait time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	start := time.Now()
	for {
		problems, err := serviceProblems(ctx, api, cluster, services)
		if err != nil {
			return "", err
		}
		if len(problems) == 0 {
			return fmt.Sprintf("%d services in %s, each running its desired count (>= 1)", len(services), cluster), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("not within %s: %s", time.Since(start).Round(time.Second), strings.Join(problems, "; "))
		case <-time.After(5 * time.Second):
		}
	}
}

func serviceProblems(ctx context.Context, api servicesAPI, cluster string, services []string) ([]string, error) {
	var problems []string
	for batch := range slices.Chunk(services, describeBatch) {
		res, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: batch})
		if err != nil {
			return nil, fmt.Errorf("DescribeServices in %s: %w", cluster, err)
		}
		if len(res.Failures) > 0 {
			f := res.Failures[0]
			return nil, fmt.Errorf("DescribeServices in %s: %s: %s", cluster, aws.ToString(f.Arn), aws.ToString(f.Reason))
		}
		seen := map[string]bool{}
		for _, s := range res.Services {
			name := aws.ToString(s.ServiceName)
			seen[name] = true
			if status := aws.ToString(s.Status); status != "ACTIVE" {
				problems = append(problems, fmt.Sprintf("%s is %s", name, status))
			} else if s.DesiredCount < 1 || s.RunningCount != s.DesiredCount {
				problems = append(problems, fmt.Sprintf("%s runs %d of %d (want desired >= 1)", name, s.RunningCount, s.DesiredCount))
			}
		}
		for _, name := range batch {
			if !seen[name] {
				return nil, fmt.Errorf("DescribeServices in %s: no answer for %s", cluster, name)
			}
		}
	}
	return problems, nil
}
