// Package diagram draws the architecture from a synthesized cloud assembly
// (cdk.out: manifest.json and the templates it names, nested stack
// templates included) as a Mermaid flowchart: one subgraph per stack, one
// box per main resource with what belongs to it folded in (IAM roles and
// policies, security groups, log groups, listeners...), one box per node
// for everything of that node, and the references between them (Ref,
// GetAtt, Sub, ImportValue, CDK's cross-region readers and writers, nested
// stack parameters and outputs, and secrets read by name from another
// region). Everything is sorted, so the same assembly always gives the same
// text.
package diagram

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// resource is one CloudFormation resource of one template.
type resource struct {
	stack  *stack
	id     string // logical ID
	typ    string
	path   []string // construct path below the stack
	props  any
	nested *stack // the template of an AWS::CloudFormation::Stack
	box    *box
}

// stack is one template: a stack artifact or a nested stack.
type stack struct {
	name      string // display name (nested: parent name + "/" + construct path)
	region    string
	resources map[string]*resource
	outputs   map[string]any // output name -> Value
	exports   map[string]any // export name -> Value
	params    map[string]any // nested: parameter name -> the parent's value
	parent    *stack
	order     int
}

type manifest struct {
	Artifacts map[string]struct {
		Type        string `json:"type"`
		Environment string `json:"environment"`
		DisplayName string `json:"displayName"`
		Properties  struct {
			TemplateFile string `json:"templateFile"`
		} `json:"properties"`
		Dependencies []string                     `json:"dependencies"`
		Metadata     map[string][]json.RawMessage `json:"metadata"`
	} `json:"artifacts"`
}

type template struct {
	Resources map[string]struct {
		Type       string         `json:"Type"`
		Properties any            `json:"Properties"`
		Metadata   map[string]any `json:"Metadata"`
	} `json:"Resources"`
	Outputs map[string]struct {
		Value  any `json:"Value"`
		Export *struct {
			Name any `json:"Name"`
		} `json:"Export"`
	} `json:"Outputs"`
}

type metaEntry struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// assembly is every template of a cloud assembly.
type assembly struct {
	dir    string
	stacks []*stack
	// logical IDs by construct path, from the manifest's metadata
	paths map[string]string // "/Stack/A/B/Resource" -> logical ID
	// asset hash -> file, from the *.assets.json manifests (nested templates)
	assetFiles map[string]string
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// load reads the assembly in dir.
func load(dir string) (*assembly, error) {
	var m manifest
	if err := readJSON(filepath.Join(dir, "manifest.json"), &m); err != nil {
		return nil, err
	}
	a := &assembly{dir: dir, paths: map[string]string{}, assetFiles: map[string]string{}}
	var ids []string
	for id, art := range m.Artifacts {
		switch art.Type {
		case "aws:cloudformation:stack":
			ids = append(ids, id)
		case "cdk:asset-manifest":
			a.readAssets(filepath.Join(dir, id+".json"))
		}
		for path, entries := range art.Metadata {
			for _, raw := range entries {
				var e metaEntry
				if json.Unmarshal(raw, &e) == nil && e.Type == "aws:cdk:logicalId" {
					if s, ok := e.Data.(string); ok {
						a.paths[path] = s
					}
				}
			}
		}
	}
	// Dependencies first, then by name: the cluster stack before the
	// stacks that read it.
	sort.Strings(ids)
	done := map[string]bool{}
	var visit func(id string) error
	visit = func(id string) error {
		if done[id] {
			return nil
		}
		done[id] = true
		art := m.Artifacts[id]
		deps := append([]string(nil), art.Dependencies...)
		sort.Strings(deps)
		for _, d := range deps {
			if m.Artifacts[d].Type == "aws:cloudformation:stack" {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		region := art.Environment[strings.LastIndex(art.Environment, "/")+1:]
		name := art.DisplayName
		if name == "" {
			name = id
		}
		_, err := a.readStack(filepath.Join(dir, art.Properties.TemplateFile), name, "/"+name, region, nil)
		return err
	}
	for _, id := range ids {
		if err := visit(id); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *assembly) readAssets(path string) {
	var am struct {
		Files map[string]struct {
			Source struct {
				Path      string `json:"path"`
				Packaging string `json:"packaging"`
			} `json:"source"`
		} `json:"files"`
	}
	if readJSON(path, &am) != nil {
		return
	}
	for hash, f := range am.Files {
		if strings.HasSuffix(f.Source.Path, ".template.json") {
			a.assetFiles[hash] = f.Source.Path
		}
	}
}

// readStack reads one template; constructPath is the stack's construct
// path ("/IpfsCluster", "/IpfsCluster/Nodes").
func (a *assembly) readStack(file, name, constructPath, region string, parent *stack) (*stack, error) {
	var t template
	if err := readJSON(file, &t); err != nil {
		return nil, err
	}
	s := &stack{name: name, region: region, parent: parent, resources: map[string]*resource{},
		outputs: map[string]any{}, exports: map[string]any{}, order: len(a.stacks)}
	a.stacks = append(a.stacks, s)
	// The construct path of each logical ID of this template: the
	// metadata paths under constructPath that no nested stack below it
	// claims (a nested stack's resources have IDs of their own).
	byID := map[string][]string{}
	for p, id := range a.paths {
		if rest, ok := strings.CutPrefix(p, constructPath+"/"); ok {
			byID[id] = append(byID[id], rest)
		}
	}
	for id, r := range t.Resources {
		if r.Type == "AWS::CDK::Metadata" {
			// Version reporting, which only the CDK CLI turns on: not
			// part of what is deployed.
			continue
		}
		res := &resource{stack: s, id: id, typ: r.Type, props: r.Properties}
		if cands := byID[id]; len(cands) > 0 {
			sort.Slice(cands, func(i, j int) bool {
				return len(cands[i]) < len(cands[j]) || len(cands[i]) == len(cands[j]) && cands[i] < cands[j]
			})
			res.path = strings.Split(cands[0], "/")
		} else {
			res.path = []string{id}
		}
		s.resources[id] = res
	}
	for name, o := range t.Outputs {
		s.outputs[name] = o.Value
		if o.Export != nil {
			if n, ok := o.Export.Name.(string); ok {
				s.exports[n] = o.Value
			}
		}
	}
	// Nested stacks, in logical ID order.
	for _, id := range sortedKeys(s.resources) {
		res := s.resources[id]
		if res.typ != "AWS::CloudFormation::Stack" {
			continue
		}
		nestedFile := a.nestedTemplate(t.Resources[id].Metadata, res.props)
		if nestedFile == "" {
			continue
		}
		// The nested stack's construct path: its resource lives at
		// <path>.NestedStack/<path>.NestedStackResource.
		cp := strings.Join(res.path, "/")
		if i := strings.Index(cp, ".NestedStack/"); i >= 0 {
			cp = cp[:i]
		}
		n, err := a.readStack(filepath.Join(a.dir, nestedFile), name+"/"+cp, constructPath+"/"+cp, region, s)
		if err != nil {
			return nil, err
		}
		n.params = map[string]any{}
		if p, ok := res.props.(map[string]any); ok {
			if params, ok := p["Parameters"].(map[string]any); ok {
				n.params = params
			}
		}
		res.nested = n
	}
	return s, nil
}

// nestedTemplate finds the file of a nested stack: the asset path in its
// metadata (the CDK CLI adds it), else the asset whose hash its
// TemplateURL names.
func (a *assembly) nestedTemplate(meta map[string]any, props any) string {
	if p, ok := meta["aws:asset:path"].(string); ok {
		return p
	}
	var found string
	walk(props, func(v any) {
		if s, ok := v.(string); ok {
			for hash, f := range a.assetFiles {
				if strings.Contains(s, hash) {
					found = f
				}
			}
		}
	})
	return found
}

// walk calls f on every value inside v.
func walk(v any, f func(any)) {
	f(v)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walk(x[k], f)
		}
	case []any:
		for _, e := range x {
			walk(e, f)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
