package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/stretchr/testify/require"
)

// stackTemplate is one stack of a synthesized cloud assembly, read from
// disk: its template as plain JSON (for graph checks the assertions package
// cannot express, such as which subnet is in which zone) and the error and
// warning messages (cdk-nag findings) attached to it.
type stackTemplate struct {
	artifactID string
	stackName  string
	// environment is aws://<account>/<region>.
	environment string
	region      string
	// template is the whole template as plain JSON.
	template map[string]any
	// text is the whole template as compact JSON, for scans.
	text      string
	resources map[string]resource
	outputs   map[string]any
	// messages are "<level> <construct path>: <data>" lines.
	messages []string
}

type resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	// UpdateReplacePolicy is what CloudFormation does with the old
	// resource when an update replaces it.
	UpdateReplacePolicy string   `json:"UpdateReplacePolicy"`
	DependsOn           []string `json:"DependsOn"`
}

// loadAssembly reads every stack of the cloud assembly in dir and of its
// nested (stage) assemblies, by artifact ID. One synth serves every check:
// Template_FromStack and Annotations_FromStack would synthesize the whole
// app again on each call.
func loadAssembly(dir string) (map[string]*stackTemplate, error) {
	manifest, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]*stackTemplate{}
	for id, a := range manifest.Artifacts {
		switch a.Type {
		case "cdk:cloud-assembly":
			nested, err := loadAssembly(filepath.Join(dir, a.Properties.DirectoryName))
			if err != nil {
				return nil, err
			}
			for k, v := range nested {
				out[k] = v
			}
			continue
		case "aws:cloudformation:stack":
		default:
			continue
		}
		s, err := readTemplate(filepath.Join(dir, a.Properties.TemplateFile))
		if err != nil {
			return nil, err
		}
		s.artifactID, s.stackName, s.environment = id, a.Properties.StackName, a.Environment
		s.region = a.Environment[strings.LastIndex(a.Environment, "/")+1:]
		for path, entries := range a.Metadata {
			for _, e := range entries {
				if e.Type == "aws:cdk:error" || e.Type == "aws:cdk:warning" {
					s.messages = append(s.messages, fmt.Sprintf("%s %s: %v", e.Type, path, e.Data))
				}
			}
		}
		sort.Strings(s.messages)
		out[id] = s
	}
	return out, nil
}

// readTemplate reads one template file.
func readTemplate(file string) (*stackTemplate, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Resources map[string]resource `json:"Resources"`
		Outputs   map[string]any      `json:"Outputs"`
	}
	var template map[string]any
	var text bytes.Buffer
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := json.Unmarshal(raw, &template); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := json.Compact(&text, raw); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &stackTemplate{template: template, text: text.String(), resources: doc.Resources, outputs: doc.Outputs}, nil
}

// nestedTemplateSuffix ends the file name of a nested stack's template: it
// is an asset of its parent, not an artifact of the manifest.
const nestedTemplateSuffix = ".nested.template.json"

// loadNested reads the nested stacks' templates of the assembly in dir and
// of its nested (stage) assemblies, by file name.
func loadNested(dir string) (map[string]*stackTemplate, error) {
	files, err := templateFiles(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]*stackTemplate{}
	for _, file := range files {
		if !strings.HasSuffix(file, nestedTemplateSuffix) {
			continue
		}
		s, err := readTemplate(file)
		if err != nil {
			return nil, err
		}
		s.artifactID = filepath.Base(file)
		out[s.artifactID] = s
	}
	return out, nil
}

// templateFiles lists every template file under dir: each stack's, each
// nested stack's, those of nested (stage) assemblies.
func templateFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".template.json") {
			files = append(files, path)
		}
		return err
	})
	sort.Strings(files)
	return files, err
}

// manifest is what these tests read of a cloud assembly's manifest.json.
type manifest struct {
	Artifacts map[string]struct {
		Type        string `json:"type"`
		Environment string `json:"environment"`
		Properties  struct {
			TemplateFile  string `json:"templateFile"`
			StackName     string `json:"stackName"`
			DirectoryName string `json:"directoryName"`
		} `json:"properties"`
		Metadata map[string][]struct {
			Type string `json:"type"`
			Data any    `json:"data"`
		} `json:"metadata"`
	} `json:"artifacts"`
	Missing []struct {
		Key string `json:"key"`
	} `json:"missing"`
}

func readManifest(dir string) (*manifest, error) {
	var m manifest
	return &m, readJSONFile(filepath.Join(dir, "manifest.json"), &m)
}

// missingContext lists the context lookups a synth could not answer
// offline, nested assemblies included: the CDK CLI would need AWS
// credentials to fill them in.
func missingContext(dir string) ([]string, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, miss := range m.Missing {
		keys = append(keys, miss.Key)
	}
	for _, a := range m.Artifacts {
		if a.Type == "cdk:cloud-assembly" {
			nested, err := missingContext(filepath.Join(dir, a.Properties.DirectoryName))
			if err != nil {
				return nil, err
			}
			keys = append(keys, nested...)
		}
	}
	return keys, nil
}

func readJSONFile(file string, v any) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// ofType returns the logical IDs and resources of one type.
func (s *stackTemplate) ofType(resourceType string) map[string]resource {
	out := map[string]resource{}
	for id, r := range s.resources {
		if r.Type == resourceType {
			out[id] = r
		}
	}
	return out
}

// exactly returns the resources of one type after requiring that there are
// n of them: a loop over what it returns cannot pass by finding nothing.
func (s *stackTemplate) exactly(t *testing.T, n int, resourceType string) map[string]resource {
	t.Helper()
	found := s.ofType(resourceType)
	require.Len(t, found, n, "%s in %s", resourceType, s.artifactID)
	return found
}

// nodeTasks returns the task definitions the nodes' services run (kubo and
// the cluster), after requiring one per node and one maintenance task
// definition per node beside them (constructs/node: run by hand only).
func (s *stackTemplate) nodeTasks(t *testing.T, nodes int) map[string]resource {
	t.Helper()
	out := map[string]resource{}
	maintenance := 0
	for id, task := range s.ofType("AWS::ECS::TaskDefinition") {
		names := map[any]bool{}
		for _, c := range list(task.Properties["ContainerDefinitions"]) {
			names[path(c, "Name")] = true
		}
		switch {
		case names[node.KuboContainerName]:
			out[id] = task
		case names[node.MaintenanceContainerName] && len(names) == 1:
			maintenance++
		default:
			t.Fatalf("%s: a task definition of neither a node nor its maintenance: %v", id, names)
		}
	}
	require.Len(t, out, nodes, "node task definitions in %s", s.artifactID)
	require.Equal(t, nodes, maintenance, "maintenance task definitions in %s", s.artifactID)
	return out
}

// withPrefix returns the single resource of a type whose logical ID starts
// with prefix (construct IDs become logical ID prefixes).
func (s *stackTemplate) withPrefix(t *testing.T, resourceType, prefix string) (string, resource) {
	t.Helper()
	var ids []string
	for id := range s.ofType(resourceType) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	require.Len(t, ids, 1, "%s with prefix %s", resourceType, prefix)
	return ids[0], s.resources[ids[0]]
}

// nagFindings are the cdk-nag AwsSolutions errors and warnings of a stack.
func (s *stackTemplate) nagFindings() []string {
	var out []string
	for _, m := range s.messages {
		if strings.Contains(m, "AwsSolutions-") {
			out = append(out, m)
		}
	}
	return out
}

// errors are the error-level messages of a stack: the CDK CLI refuses to
// go on with any.
func (s *stackTemplate) errors() []string {
	var out []string
	for _, m := range s.messages {
		if strings.HasPrefix(m, "aws:cdk:error") {
			out = append(out, m)
		}
	}
	return out
}

// subnetZone returns the availability zone of the subnet a reference names.
func subnetZone(t *testing.T, s *stackTemplate, subnetRef any) string {
	t.Helper()
	subnet, ok := s.resources[ref(subnetRef)]
	require.True(t, ok, "subnet %v not in template", subnetRef)
	require.Equal(t, "AWS::EC2::Subnet", subnet.Type)
	zone, _ := subnet.Properties["AvailabilityZone"].(string)
	return zone
}

// hasRouteOut tells whether the subnet a reference names has any route in
// its (one) route table: isolated subnets have none.
func hasRouteOut(t *testing.T, s *stackTemplate, subnetRef any) bool {
	t.Helper()
	var tables []string
	for _, assoc := range s.ofType("AWS::EC2::SubnetRouteTableAssociation") {
		if ref(assoc.Properties["SubnetId"]) == ref(subnetRef) {
			tables = append(tables, ref(assoc.Properties["RouteTableId"]))
		}
	}
	require.Len(t, tables, 1, "route table of subnet %v", subnetRef)
	for _, route := range s.ofType("AWS::EC2::Route") {
		if ref(route.Properties["RouteTableId"]) == tables[0] {
			return true
		}
	}
	return false
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

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// absRepoRoot is the repository root as an absolute path.
func absRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	return root
}

// childIDs names the children of a construct: what a rejected one must not
// have added.
func childIDs(c constructs.IConstruct) []string {
	var ids []string
	for _, child := range *c.Node().Children() {
		ids = append(ids, *child.Node().Id())
	}
	return ids
}

// catch runs f and turns a panic into an error: failed jsii calls (CDK
// validation errors, assertions) panic.
func catch(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("panic: %w", e)
			} else {
				err = fmt.Errorf("panic: %v", r)
			}
		}
	}()
	return f()
}
