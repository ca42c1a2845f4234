package diagram

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// mainTypes get a box of their own, with this name; every other resource
// is folded into the box of the main resource nearest to it in the
// construct tree.
var mainTypes = map[string]string{
	"AWS::EC2::VPC":                              "VPC",
	"AWS::SecretsManager::Secret":                "secret",
	"AWS::ECS::Cluster":                          "ECS cluster",
	"AWS::ServiceDiscovery::PrivateDnsNamespace": "Cloud Map namespace",
	"AWS::ElasticLoadBalancingV2::LoadBalancer":  "Application Load Balancer",
	"AWS::CloudFront::Distribution":              "CloudFront distribution",
	"AWS::CloudFront::VpcOrigin":                 "CloudFront VPC origin",
	"AWS::Lambda::Function":                      "Lambda function",
	"AWS::Backup::BackupVault":                   "Backup vault",
	"AWS::Backup::BackupPlan":                    "Backup plan",
	"AWS::SNS::Topic":                            "SNS topic",
	"AWS::CloudWatch::Dashboard":                 "CloudWatch dashboard",
}

// Alarms are many and alike: one box per construct that owns them.
const alarmType = "AWS::CloudWatch::Alarm"

// watchers observe what they reference (dimensions, widgets): those
// references are not drawn, only where they notify.
var watchers = map[string]bool{alarmType: true, "AWS::CloudWatch::Dashboard": true}

// plumbing is CDK's machinery for references across stacks and regions:
// never drawn, followed through to what it reads.
var plumbing = map[string]bool{
	"Custom::CrossRegionExportReader":          true,
	"Custom::CrossRegionExportWriter":          true,
	"Custom::CrossRegionStringParameterReader": true,
}

var nodePath = regexp.MustCompile(`^Node(\d+)$`)

// box is one drawn node of the diagram.
type box struct {
	stack   *stack
	key     string // construct path of its owner, or "<construct>/alarms"
	label   string
	kind    string // the main type, "node", or alarmType
	members []*resource
}

func (b *box) id() string {
	return fmt.Sprintf("s%d_%s", b.stack.order, regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(b.key, "_"))
}

// edge is one drawn reference.
type edge struct {
	from, to *box
	label    string
}

// ownerPath is the construct that owns an L1 resource: its parent when the
// resource is the construct's default child.
func ownerPath(r *resource) string {
	p := r.path
	if n := len(p); n > 1 && (p[n-1] == "Resource" || p[n-1] == "Default") {
		p = p[:n-1]
	}
	return strings.Join(p, "/")
}

func isPlumbing(r *resource) bool {
	return plumbing[r.typ] || strings.HasPrefix(r.path[0], "Custom::") || strings.HasPrefix(r.path[0], "Exports")
}

// boxes assigns every resource to a box (or none) and returns the boxes in
// a stable order.
func (a *assembly) boxes() []*box {
	var out []*box
	for _, s := range a.stacks {
		byKey := map[string]*box{}
		get := func(key, label, kind string) *box {
			if b := byKey[key]; b != nil {
				return b
			}
			b := &box{stack: s, key: key, label: label, kind: kind}
			byKey[key] = b
			return b
		}
		var rest []*resource
		for _, id := range sortedKeys(s.resources) {
			r := s.resources[id]
			switch {
			case isPlumbing(r) || r.nested != nil:
			case nodePath.MatchString(r.path[0]):
				r.box = get(r.path[0], "node"+nodePath.FindStringSubmatch(r.path[0])[1], "node")
			case r.typ == alarmType:
				r.box = get(r.path[0]+"/alarms", r.path[0]+" alarms", alarmType)
			case mainTypes[r.typ] != "":
				key := ownerPath(r)
				r.box = get(key, key, r.typ)
			default:
				rest = append(rest, r)
			}
			if r.box != nil {
				r.box.members = append(r.box.members, r)
			}
		}
		// The rest joins the box (not a node's) sharing the longest
		// construct path prefix, if exactly one does.
		var mains []*box
		for _, k := range sortedKeys(byKey) {
			if b := byKey[k]; b.kind != "node" {
				mains = append(mains, b)
			}
		}
		for _, r := range rest {
			var best *box
			bestLen, tie := 0, false
			for _, b := range mains {
				n := commonPrefix(r.path, strings.Split(b.key, "/"))
				switch {
				case n > bestLen:
					best, bestLen, tie = b, n, false
				case n == bestLen && n > 0:
					tie = true
				}
			}
			if best != nil && !tie {
				r.box = best
				best.members = append(best.members, r)
			}
		}
		// A Lambda function that only serves custom resources (an
		// AwsCustomResource's singleton provider, say) is how its consumer
		// works, not a part of the system: its box (the function with its
		// role) joins the consumer's, when every consumer sits in one box.
		for id, consumers := range providers(s) {
			p, c := s.resources[id].box, consumers[0].box
			if p == nil || c == nil || c == p || slices.ContainsFunc(consumers, func(r *resource) bool { return r.box != c }) {
				continue
			}
			for _, r := range p.members {
				r.box = c
			}
			c.members = append(c.members, p.members...)
			delete(byKey, p.key)
		}
		for _, k := range sortedKeys(byKey) {
			out = append(out, byKey[k])
		}
	}
	return out
}

// providers maps each Lambda function of s that is a custom resource's
// ServiceToken to the custom resources it serves, when it serves nothing
// else: no other resource of s references it.
func providers(s *stack) map[string][]*resource {
	out := map[string][]*resource{}
	other := map[string]bool{}
	for _, id := range sortedKeys(s.resources) {
		r := s.resources[id]
		props, _ := r.props.(map[string]any)
		custom := strings.HasPrefix(r.typ, "Custom::") || r.typ == "AWS::CloudFormation::CustomResource"
		for k, v := range props {
			walk(v, func(x any) {
				m, ok := x.(map[string]any)
				if !ok || len(m) != 1 {
					return
				}
				var target string
				if l, ok := m["Fn::GetAtt"].([]any); ok && len(l) == 2 {
					target, _ = l[0].(string)
				} else if ref, ok := m["Ref"].(string); ok {
					target = ref
				}
				t := s.resources[target]
				switch {
				case t == nil || t.typ != "AWS::Lambda::Function" || t.path[0] == r.path[0]:
				case custom && k == "ServiceToken" && !isPlumbing(r):
					out[target] = append(out[target], r)
				default:
					other[target] = true
				}
			})
		}
	}
	for id := range other {
		delete(out, id)
	}
	return out
}

func commonPrefix(a, b []string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// target is a resolved reference.
type target struct {
	r     *resource
	label string
}

// refs returns what v, a value inside s, references: resources of s or,
// through parameters, outputs, exports and CDK's cross-region plumbing, of
// other stacks.
func (a *assembly) refs(s *stack, v any, label string) []target {
	var out []target
	add := func(r *resource, l string) {
		if r != nil {
			out = append(out, target{r, l})
		}
	}
	var visit func(v any)
	visit = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				for k, arg := range x {
					switch k {
					case "Ref":
						name, _ := arg.(string)
						if r := s.resources[name]; r != nil {
							add(r, label)
						} else if p, ok := s.params[name]; ok && s.parent != nil {
							out = append(out, a.refs(s.parent, p, label)...)
						}
						return
					case "Fn::GetAtt":
						l, _ := arg.([]any)
						if len(l) != 2 {
							break
						}
						name, _ := l[0].(string)
						attr, _ := l[1].(string)
						out = append(out, a.getAtt(s, name, attr, label)...)
						return
					case "Fn::Sub":
						str := arg
						if l, ok := arg.([]any); ok && len(l) == 2 {
							str = l[0]
							visit(l[1])
						}
						if t, ok := str.(string); ok {
							for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}`).FindAllStringSubmatch(t, -1) {
								add(s.resources[m[1]], label)
							}
						}
						return
					case "Fn::ImportValue":
						name, _ := arg.(string)
						for _, o := range a.stacks {
							if val, ok := o.exports[name]; ok && o != s {
								out = append(out, a.refs(o, val, or(label, "import"))...)
							}
						}
						return
					}
				}
			}
			for _, k := range sortedKeys(x) {
				visit(x[k])
			}
		case []any:
			for _, e := range x {
				visit(e)
			}
		case string:
			out = append(out, a.namedIn(s, x, label)...)
		}
	}
	visit(v)
	return out
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (a *assembly) getAtt(s *stack, name, attr, label string) []target {
	r := s.resources[name]
	if r == nil {
		return nil
	}
	switch {
	case r.nested != nil && strings.HasPrefix(attr, "Outputs."):
		return a.refs(r.nested, r.nested.outputs[strings.TrimPrefix(attr, "Outputs.")], label)
	case r.typ == "Custom::CrossRegionExportReader":
		// The writer in the other region holds the value under the same name.
		for _, o := range a.stacks {
			for _, id := range sortedKeys(o.resources) {
				w := o.resources[id]
				if w.typ != "Custom::CrossRegionExportWriter" {
					continue
				}
				if val, ok := dig(w.props, "WriterProps", "exports", attr); ok {
					return a.refs(o, val, or(label, "cross-region"))
				}
			}
		}
		return nil
	}
	return []target{{r, label}}
}

// byName are the resources another region's stack can only name: an ARN
// built from the name (an IAM policy on a secret's replica, a backup copy
// to another region's vault). The marker precedes the name in the ARN.
var byName = []struct{ typ, nameProp, marker string }{
	{"AWS::SecretsManager::Secret", "Name", ":secret:"},
	{"AWS::Backup::BackupVault", "BackupVaultName", ":backup-vault:"},
}

// namedIn finds resources of other stacks whose literal name an ARN in str
// carries.
func (a *assembly) namedIn(s *stack, str, label string) []target {
	var out []target
	for _, kind := range byName {
		if !strings.Contains(str, kind.marker) {
			continue
		}
		for _, o := range a.stacks {
			if o == s {
				continue
			}
			for _, id := range sortedKeys(o.resources) {
				r := o.resources[id]
				name, _ := dig(r.props, kind.nameProp)
				n, ok := name.(string)
				if r.typ != kind.typ || !ok || n == "" || !strings.Contains(str, kind.marker+n) {
					continue
				}
				l := "by name, " + o.region
				if replicas, _ := dig(r.props, "ReplicaRegions"); strings.Contains(fmt.Sprint(replicas), s.region) {
					l = "replica in " + s.region
				}
				out = append(out, target{r, or(label, l)})
			}
		}
	}
	return out
}

func dig(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// resolve follows t through plumbing to boxed resources.
func (a *assembly) resolve(t target, seen map[*resource]bool) []target {
	if t.r.box != nil {
		return []target{t}
	}
	if seen[t.r] || !isPlumbing(t.r) {
		return nil
	}
	seen[t.r] = true
	var next []target
	if t.r.typ == "Custom::CrossRegionStringParameterReader" {
		name, _ := dig(t.r.props, "ParameterName")
		for _, o := range a.stacks {
			for _, id := range sortedKeys(o.resources) {
				p := o.resources[id]
				if n, _ := dig(p.props, "Name"); p.typ == "AWS::SSM::Parameter" && n == name && name != nil {
					next = append(next, target{p, or(t.label, "cross-region")})
				}
			}
		}
	} else {
		next = a.refs(t.r.stack, t.r.props, t.label)
	}
	var out []target
	for _, n := range next {
		out = append(out, a.resolve(n, seen)...)
	}
	return out
}

// edges are the references between boxes, deduplicated and sorted.
func (a *assembly) edges(boxes []*box) []edge {
	type key struct{ from, to, label string }
	seen := map[key]edge{}
	for _, b := range boxes {
		for _, r := range b.members {
			for _, t := range a.refs(r.stack, r.props, "") {
				for _, t := range a.resolve(t, map[*resource]bool{}) {
					from, to := b, t.r.box
					if from == to {
						continue
					}
					if watchers[r.typ] && t.r.typ != "AWS::SNS::Topic" {
						continue
					}
					// A service registers with a target group, an ingress rule
					// names its source: traffic flows towards the referrer.
					if r.typ == "AWS::ECS::Service" && t.r.typ == "AWS::ElasticLoadBalancingV2::TargetGroup" || r.typ == "AWS::EC2::SecurityGroupIngress" {
						from, to = to, from
					}
					k := key{from.id(), to.id(), t.label}
					seen[k] = edge{from, to, t.label}
				}
			}
		}
	}
	var keys []key
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].from != keys[j].from {
			return keys[i].from < keys[j].from
		}
		if keys[i].to != keys[j].to {
			return keys[i].to < keys[j].to
		}
		return keys[i].label < keys[j].label
	})
	// One arrow per pair: a labelled one wins over a plain one.
	var out []edge
	for i, k := range keys {
		if k.label == "" && i+1 < len(keys) && keys[i+1].from == k.from && keys[i+1].to == k.to {
			continue
		}
		out = append(out, seen[k])
	}
	return out
}
