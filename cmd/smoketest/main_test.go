package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/smoketest/fakecluster"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

const (
	stackName  = "IpfsCluster"
	secretName = "IpfsCluster/rest-api-credentials"
	ecsCluster = "IpfsCluster-Cluster1234"
	region     = "eu-west-1"
)

var serviceNames = []string{"IpfsCluster-Node0Service", "IpfsCluster-Node1Service", "IpfsCluster-Node2Service"}

// fakeAWS answers CloudFormation (awsQuery: form in, XML out), Secrets
// Manager and ECS (awsJson1_1) on one httptest server, as the SDK clients
// reach it through BaseEndpoint.
type fakeAWS struct {
	srv *httptest.Server

	stackStatus string
	outputs     map[string]string
	stackErr    bool
	secret      string
	secretErr   bool
	running     map[string]int32 // per service; desired is 1
	ecsErr      bool
	ecsMissing  bool
	// A second region's stack and ECS cluster, when set.
	secondStack, secondCluster string
	secondOutputs              map[string]string

	mu    sync.Mutex
	calls []string // "<signing service>@<region> <action> <resource>"
	keys  []string // the access key and session token each call was signed with
}

func newFakeAWS(t *testing.T, fc *fakecluster.Cluster) *fakeAWS {
	f := &fakeAWS{
		stackStatus: "UPDATE_COMPLETE",
		outputs: map[string]string{
			outputs.GatewayURL: fc.Gateway.URL, outputs.RestAPIURL: fc.API.URL,
			outputs.RestAPICredentialsSecretName: secretName, outputs.EcsClusterName: ecsCluster,
			outputs.NodeServiceNames: strings.Join(serviceNames, ","), outputs.ReplicationFactorMin: "2",
			outputs.LoadBalancerDNSName: "internal-alb.eu-west-1.elb.amazonaws.com",
		},
		secret:  fmt.Sprintf(`{"username":%q,"password":%q}`, fc.User, fc.Pass),
		running: map[string]int32{},
	}
	for _, s := range serviceNames {
		f.running[s] = 1
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAWS) load(_ context.Context, region string) (aws.Config, error) {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSMOKETEST", "not-a-real-key", ""),
		BaseEndpoint: aws.String(f.srv.URL),
		HTTPClient:   f.srv.Client(),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}, nil
}

func (f *fakeAWS) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// scopeRE reads the SigV4 credential scope: proof that the SDK signed for
// the right service and region, and with which key.
var scopeRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/\d{8}/([a-z0-9-]+)/([a-z]+)/aws4_request`)

func (f *fakeAWS) record(r *http.Request, action, resource string) {
	m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization"))
	scope, key := "unsigned", ""
	if m != nil {
		scope, key = m[3]+"@"+m[2], m[1]+" "+r.Header.Get("X-Amz-Security-Token")
	}
	f.mu.Lock()
	f.calls = append(f.calls, scope+" "+action+" "+resource)
	f.keys = append(f.keys, key)
	f.mu.Unlock()
}

func jsonError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func jsonAnswer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "secretsmanager.GetSecretValue":
		var in struct{ SecretId string }
		_ = json.Unmarshal(body, &in)
		f.record(r, "GetSecretValue", in.SecretId)
		if f.secretErr || in.SecretId != secretName {
			jsonError(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		jsonAnswer(w, map[string]any{"ARN": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:" + secretName + "-AbCdEf",
			"Name": secretName, "SecretString": f.secret, "VersionId": "v1"})
	case "AmazonEC2ContainerServiceV20141113.DescribeServices":
		var in struct {
			Cluster  string   `json:"cluster"`
			Services []string `json:"services"`
		}
		_ = json.Unmarshal(body, &in)
		f.record(r, "DescribeServices", in.Cluster+":"+strings.Join(in.Services, ","))
		if f.ecsErr || in.Cluster != ecsCluster && (f.secondCluster == "" || in.Cluster != f.secondCluster) {
			jsonError(w, "ClusterNotFoundException", "Cluster not found.")
			return
		}
		var svcs, failures []map[string]any
		for _, name := range in.Services {
			running, ok := f.running[name]
			if !ok || f.ecsMissing {
				failures = append(failures, map[string]any{"arn": "arn:aws:ecs:eu-west-1:111111111111:service/" + ecsCluster + "/" + name, "reason": "MISSING"})
				continue
			}
			svcs = append(svcs, map[string]any{"serviceName": name, "status": "ACTIVE", "desiredCount": 1, "runningCount": running, "pendingCount": 1 - running})
		}
		jsonAnswer(w, map[string]any{"services": svcs, "failures": failures})
	case "":
		form, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "text/xml")
		if form.Get("Action") == "AssumeRole" {
			f.record(r, "AssumeRole", form.Get("RoleArn")+" as "+form.Get("RoleSessionName"))
			_, _ = fmt.Fprint(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAASSUMEDKEY</AccessKeyId><SecretAccessKey>assumed-secret</SecretAccessKey><SessionToken>assumed-session-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::222222222222:assumed-role/smoke/smoketest</Arn><AssumedRoleId>AROAEXAMPLE:smoketest</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata></AssumeRoleResponse>`)
			return
		}
		f.record(r, form.Get("Action"), form.Get("StackName"))
		stackOutputs, name := f.outputs, form.Get("StackName")
		if f.secondStack != "" && name == f.secondStack {
			stackOutputs = f.secondOutputs
		} else if name != stackName {
			stackOutputs = nil
		}
		if form.Get("Action") != "DescribeStacks" || f.stackErr || stackOutputs == nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id %s does not exist</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`, html.EscapeString(form.Get("StackName")))
			return
		}
		var outs strings.Builder
		for k, v := range stackOutputs {
			fmt.Fprintf(&outs, "<member><OutputKey>%s</OutputKey><OutputValue>%s</OutputValue></member>", html.EscapeString(k), html.EscapeString(v))
		}
		_, _ = fmt.Fprintf(w, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>
<StackName>%s</StackName><StackId>arn:aws:cloudformation:eu-west-1:111111111111:stack/%s/1</StackId>
<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>%s</StackStatus><Outputs>%s</Outputs>
</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></DescribeStacksResponse>`,
			name, name, f.stackStatus, outs.String())
	default:
		jsonError(w, "UnknownOperationException", target)
	}
}

type outcome struct {
	code           int
	stdout, stderr string
}

func (o outcome) line(name string) string {
	for _, l := range strings.Split(o.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == name {
			return l
		}
	}
	return ""
}

func runWith(t *testing.T, f *fakeAWS, env map[string]string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr, f.load, &http.Client{Timeout: 10 * time.Second})
	o := outcome{code, stdout.String(), stderr.String()}
	t.Logf("exit %d\n%s%s", code, o.stdout, o.stderr)
	return o
}

func healthy(t *testing.T) (*fakecluster.Cluster, *fakeAWS) {
	fc := fakecluster.New(t, len(serviceNames))
	fc.CloudFront = true
	return fc, newFakeAWS(t, fc)
}

var httpChecks = []string{"api-refuses-missing-credentials", "api-refuses-wrong-credentials", "peers", "add",
	"pinned", "gateway", "cloudfront-cache-hit", "gateway-raw-block", "unpin"}

func TestPassesAgainstAHealthyDeployment(t *testing.T) {
	fc, f := healthy(t)
	o := runWith(t, f, nil, "-stack", stackName, "-region", region)
	if o.code != 0 || !strings.Contains(o.stderr, "smoketest: passed") {
		t.Fatalf("exit %d, stderr %q: want 0 and passed", o.code, o.stderr)
	}
	for _, name := range append([]string{"stack-outputs", "rest-api-credentials", "ecs-services"}, httpChecks...) {
		if l := o.line(name); !strings.HasPrefix(l, "ok ") {
			t.Errorf("%s: line %q, want ok", name, l)
		}
	}
	want := []string{
		"cloudformation@eu-west-1 DescribeStacks " + stackName,
		"secretsmanager@eu-west-1 GetSecretValue " + secretName,
		"ecs@eu-west-1 DescribeServices " + ecsCluster + ":" + strings.Join(serviceNames, ","),
	}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("AWS calls %q, want %q", got, want)
	}
	if fc.Pinned() != 0 {
		t.Errorf("%d pins left", fc.Pinned())
	}
}

func TestOutputsFromTheEnvironment(t *testing.T) {
	_, f := healthy(t)
	env := map[string]string{envAWSRegion: region}
	for _, n := range needed {
		env[n.env] = f.outputs[n.key]
	}
	f.stackErr = true // DescribeStacks must not be needed
	o := runWith(t, f, env)
	if o.code != 0 {
		t.Fatalf("exit %d, want 0", o.code)
	}
	for _, c := range f.Calls() {
		if strings.Contains(c, "DescribeStacks") {
			t.Errorf("called %s with every output in the environment", c)
		}
	}

	// One output from the environment wins over the stack's.
	delete(env, envGatewayURL)
	env[envNodeServiceNames] = serviceNames[0] + "," + serviceNames[1]
	env[envStack] = stackName
	f.stackErr = false
	o = runWith(t, f, env, "-wait", "1s")
	if l := o.line("peers"); !strings.Contains(l, "want 2") {
		t.Errorf("peers line %q: the environment's two services did not set the expected peers", l)
	}
	if l := o.line("stack-outputs"); !strings.Contains(l, "1 from stack") {
		t.Errorf("stack-outputs line %q, want 1 output from the stack", l)
	}
}

func screamingSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func TestEnvNamesAreTheOutputKeysInScreamingSnake(t *testing.T) {
	if got := screamingSnake("RestApiCredentialsSecretName"); got != "REST_API_CREDENTIALS_SECRET_NAME" {
		t.Fatalf("screamingSnake = %s", got)
	}
	for _, n := range needed {
		if want := screamingSnake(n.key); n.env != want {
			t.Errorf("output %s read from %s, want %s", n.key, n.env, want)
		}
	}
}

// With -role-arn every AWS call is signed with the assumed role's
// credentials, obtained once from STS.
func TestAssumesTheGivenRole(t *testing.T) {
	_, f := healthy(t)
	const role = "arn:aws:iam::222222222222:role/smoke"
	o := runWith(t, f, map[string]string{envRoleARN: role}, "-stack", stackName, "-region", region)
	if o.code != 0 {
		t.Fatalf("exit %d, want 0", o.code)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 4 || f.calls[0] != "sts@eu-west-1 AssumeRole "+role+" as smoketest" {
		t.Fatalf("calls %q, want AssumeRole first, then the three reads", f.calls)
	}
	if f.keys[0] != "AKIDSMOKETEST " {
		t.Errorf("AssumeRole signed with %q, want the caller's own key", f.keys[0])
	}
	for i, k := range f.keys[1:] {
		if k != "ASIAASSUMEDKEY assumed-session-token" {
			t.Errorf("%s signed with %q, want the assumed role's key and token", f.calls[i+1], k)
		}
	}
}

// Each AWS call's failure fails the run and says which call.
func TestAWSFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(*fakeAWS)
		line   string // the failing line
		want   string // in it
	}{
		{"stack not found", func(f *fakeAWS) { f.stackErr = true }, "stack-outputs", "ValidationError"},
		{"stack rolled back", func(f *fakeAWS) { f.stackStatus = "UPDATE_ROLLBACK_COMPLETE" }, "stack-outputs", "UPDATE_ROLLBACK_COMPLETE"},
		{"output missing", func(f *fakeAWS) { delete(f.outputs, outputs.NodeServiceNames) }, "stack-outputs", "NodeServiceNames"},
		{"bad replication output", func(f *fakeAWS) { f.outputs[outputs.ReplicationFactorMin] = "two" }, "stack-outputs", "not a number"},
		{"secret not found", func(f *fakeAWS) { f.secretErr = true }, "rest-api-credentials", "ResourceNotFoundException"},
		{"secret without password", func(f *fakeAWS) { f.secret = `{"username":"admin"}` }, "rest-api-credentials", "username and a password"},
		{"cluster not found", func(f *fakeAWS) { f.ecsErr = true }, "ecs-services", "ClusterNotFoundException"},
		{"service missing", func(f *fakeAWS) { f.ecsMissing = true }, "ecs-services", "MISSING"},
		{"service not running", func(f *fakeAWS) { f.running[serviceNames[1]] = 0 }, "ecs-services", "runs 0 of 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, f := healthy(t)
			tc.break_(f)
			o := runWith(t, f, nil, "-stack", stackName, "-region", region, "-wait", "1s")
			if o.code != 1 || !strings.Contains(o.stderr, "smoketest: FAILED") {
				t.Errorf("exit %d, stderr %q: want 1 and FAILED", o.code, o.stderr)
			}
			if l := o.line(tc.line); !strings.HasPrefix(l, "FAIL ") || !strings.Contains(l, tc.want) {
				t.Errorf("%s line %q, want a FAIL mentioning %q", tc.line, l, tc.want)
			}
		})
	}
}

// A failed HTTP check fails the run even when AWS is fine.
func TestHTTPFailureFailsTheRun(t *testing.T) {
	fc, f := healthy(t)
	fc.FlipByte = 7
	o := runWith(t, f, nil, "-stack", stackName, "-region", region, "-wait", "1s")
	if o.code != 1 || !strings.HasPrefix(o.line("gateway"), "FAIL ") {
		t.Errorf("exit %d, gateway line %q: want exit 1 and a FAIL", o.code, o.line("gateway"))
	}
}

// A planted password never reaches stdout or stderr, whatever fails.
func TestNeverPrintsTheSecret(t *testing.T) {
	const planted = "PLANTED-pw-5f0c2e9a81d4"
	for _, tc := range []struct {
		name   string
		break_ func(*fakecluster.Cluster, *fakeAWS)
	}{
		{"healthy", func(*fakecluster.Cluster, *fakeAWS) {}},
		{"server quotes the credentials", func(fc *fakecluster.Cluster, _ *fakeAWS) { fc.PeersEcho = true }},
		{"API accepts anything", func(fc *fakecluster.Cluster, _ *fakeAWS) { fc.AcceptNoAuth, fc.AcceptWrongPass = true, true }},
		{"secret is broken JSON", func(_ *fakecluster.Cluster, f *fakeAWS) {
			f.secret = `{"username":"admin","password":"` + planted
		}},
		{"secret has the wrong shape", func(_ *fakecluster.Cluster, f *fakeAWS) { f.secret = `["admin","` + planted + `"]` }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := fakecluster.New(t, len(serviceNames))
			fc.CloudFront = true
			fc.Pass = planted
			f := newFakeAWS(t, fc)
			tc.break_(fc, f)
			o := runWith(t, f, nil, "-stack", stackName, "-region", region, "-wait", "1s")
			basic := base64.StdEncoding.EncodeToString([]byte(fc.User + ":" + planted))
			for _, s := range []string{planted, basic, url.QueryEscape(planted)} {
				if strings.Contains(o.stdout+o.stderr, s) {
					t.Errorf("output carries %q", s)
				}
			}
			if tc.name == "healthy" && o.code != 0 {
				t.Errorf("exit %d with the planted password", o.code)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	_, f := healthy(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no region", nil, []string{"-stack", stackName}, "no region"},
		{"no stack", map[string]string{envRegion: region}, nil, "give -stack"},
		{"stray argument", nil, []string{"-region", region, "extra"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := runWith(t, f, tc.env, tc.args...)
			if o.code != 2 || !strings.Contains(o.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q: want 2 and %q", o.code, o.stderr, tc.want)
			}
		})
	}
	if len(f.Calls()) != 0 {
		t.Errorf("usage errors reached AWS: %q", f.Calls())
	}
}

func TestFlagsFallBackToTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env        map[string]string
		args       []string
		stack, reg string
		private    bool
	}{
		{map[string]string{envStack: "A", envRegion: "eu-west-3", envAWSRegion: "us-east-2"}, nil, "A", "eu-west-3", false},
		{map[string]string{envStack: "A", envAWSRegion: "us-east-2", envPrivateGateway: "true"}, nil, "A", "us-east-2", true},
		{map[string]string{envStack: "A", envRegion: "eu-west-3"}, []string{"-stack", "B", "-region", "ap-south-1"}, "B", "ap-south-1", false},
	} {
		o, err := parseFlags(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err != nil || o.stack != tc.stack || o.region != tc.reg || o.privateGateway != tc.private {
			t.Errorf("env %v args %v: %+v, %v; want stack %s region %s private %v", tc.env, tc.args, o, err, tc.stack, tc.reg, tc.private)
		}
	}
}

// TestChecksTheSecondRegion: with a second region the smoke test reads that
// region's stack there, checks its services there, expects the peers of
// both regions and a copy of the added bytes in each region.
func TestChecksTheSecondRegion(t *testing.T) {
	const second, secondStack, secondCluster = "us-east-2", "IpfsCluster-second-region", "IpfsCluster-second-region-Cluster"
	secondServices := []string{"Node3Service", "Node4Service", "Node5Service"}
	fc := fakecluster.New(t, 6)
	fc.CloudFront = true
	for k := range 3 {
		fc.Peers[3+k].PeerName = nodespec.PeerName(nodespec.SecondRegionFirstIndex + k)
	}
	f := newFakeAWS(t, fc)
	f.outputs[outputs.SecondRegion] = second
	f.outputs[outputs.SecondRegionStackName] = secondStack
	f.outputs[outputs.SecondRegionRestAPIURL] = fc.StandbyAPI(t, 4).URL
	f.secondStack, f.secondCluster = secondStack, secondCluster
	f.secondOutputs = map[string]string{outputs.EcsClusterName: secondCluster, outputs.NodeServiceNames: strings.Join(secondServices, ",")}
	for _, s := range secondServices {
		f.running[s] = 1
	}
	o := runWith(t, f, nil, "-stack", stackName, "-region", region)
	if o.code != 0 {
		t.Fatalf("exit %d, want 0", o.code)
	}
	for _, name := range []string{"second-region-stack-outputs", "second-region-ecs-services", "peers", "standby-api", "pinned"} {
		if l := o.line(name); !strings.HasPrefix(l, "ok ") {
			t.Errorf("%s: line %q, want ok", name, l)
		}
	}
	if l := o.line("pinned"); !strings.Contains(l, "in each of "+region+", "+second) {
		t.Errorf("pinned line %q does not check both regions", l)
	}
	want := []string{
		"cloudformation@" + second + " DescribeStacks " + secondStack,
		"ecs@" + second + " DescribeServices " + secondCluster + ":" + strings.Join(secondServices, ","),
	}
	for _, c := range want {
		if !slices.Contains(f.Calls(), c) {
			t.Errorf("no call %q in %q", c, f.Calls())
		}
	}

	// From the environment, as a pipeline step gets them: no DescribeStacks
	// in the second region; a stopped task there fails its check.
	env := map[string]string{
		outputs.SecondRegionVariable(outputs.EcsClusterName):   secondCluster,
		outputs.SecondRegionVariable(outputs.NodeServiceNames): strings.Join(secondServices, ","),
	}
	f.running[secondServices[1]] = 0
	f.calls = nil
	o = runWith(t, f, env, "-stack", stackName, "-region", region, "-wait", "1s")
	if o.code != 1 || !strings.HasPrefix(o.line("second-region-ecs-services"), "FAIL") {
		t.Errorf("exit %d, line %q: want the second region's stopped task to fail the run", o.code, o.line("second-region-ecs-services"))
	}
	for _, c := range f.Calls() {
		if strings.Contains(c, "DescribeStacks "+secondStack) {
			t.Errorf("called %s with the second region's outputs in the environment", c)
		}
	}
}
