// Package test holds the CDK assertion tests of the whole app. One jsii kernel
// serves the test binary: TestMain synthesizes each configuration once and
// every test reads the shared templates. Never use t.Parallel() here: the
// kernel is not goroutine-safe.
package test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	_ "github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/jsiienv"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
)

// repoRoot is where go test runs this package from: test/.
const repoRoot = ".."

// synthesized is one configuration built and synthesized once.
type synthesized struct {
	config   config.Config
	stack    *stacks.IpfsCluster
	template assertions.Template
	// resources is the template as plain JSON, for graph checks that the
	// assertions package cannot express (which subnet is in which zone).
	resources map[string]resource
	outputs   map[string]any
	cdkApp    awscdk.App
}

type resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
}

var (
	// defaults is cdk.json exactly as shipped.
	defaults *synthesized
	// privateSwarm is cdk.json with publicSwarm=false and six nodes.
	privateSwarm *synthesized
)

func TestMain(m *testing.M) {
	var err error
	if defaults, err = synth(nil); err == nil {
		privateSwarm, err = synth(map[string]any{config.KeyPublicSwarm: "false", config.KeyNodeCount: "6"})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "synth failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// cdkJSONContext returns cdk.json's context with overrides applied the way
// `cdk -c key=value` would (string values).
func cdkJSONContext(overrides map[string]any) map[string]any {
	ctx, err := config.LoadCdkJSONContext(repoRoot + "/cdk.json")
	if err != nil {
		panic(err)
	}
	for k, v := range overrides {
		ctx[k] = v
	}
	return ctx
}

func synth(overrides map[string]any) (*synthesized, error) {
	ctx := cdkJSONContext(overrides)
	cdkApp := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	stack, err := app.Build(cdkApp, repoRoot)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(app.ReadContext(cdkApp.Node()))
	if err != nil {
		return nil, err
	}
	template := assertions.Template_FromStack(stack.Stack, nil)
	raw, err := json.Marshal(template.ToJSON())
	if err != nil {
		return nil, err
	}
	var doc struct {
		Resources map[string]resource `json:"Resources"`
		Outputs   map[string]any      `json:"Outputs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return &synthesized{config: cfg, stack: stack, template: template, resources: doc.Resources, outputs: doc.Outputs, cdkApp: cdkApp}, nil
}

// ofType returns the logical IDs and resources of one type.
func (s *synthesized) ofType(resourceType string) map[string]resource {
	out := map[string]resource{}
	for id, r := range s.resources {
		if r.Type == resourceType {
			out[id] = r
		}
	}
	return out
}

// ref resolves {"Ref": id} or {"Fn::GetAtt": [id, attr]} to the logical ID.
func ref(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if id, ok := m["Ref"].(string); ok {
		return id
	}
	if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) > 0 {
		id, _ := att[0].(string)
		return id
	}
	return ""
}

// path walks nested maps and lists: path(v, "A", "B", 0).
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch key := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[key]
		case int:
			l, ok := v.([]any)
			if !ok || key >= len(l) {
				return nil
			}
			v = l[key]
		}
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
