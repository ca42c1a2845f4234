package localcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The upstream profile of the pin benchmark: every tuning setting the
// shipped configuration sets, put back to the value upstream's
// `ipfs-cluster-service init --consensus crdt` writes, plus upstream's
// default datastore. Kubo and everything that is not tuning stay as
// shipped, so that the two runs differ in the cluster's tuning alone.

// notTuning are the CLUSTER_* variables of the shipped configuration that
// the upstream profile keeps, and why: they say who a peer is, where it
// listens, how a client authenticates, or what the benchmark's workload is,
// not how fast or safely the cluster works.
var notTuning = map[string]string{
	"CLUSTER_PEER_INDEX":                       "identity",
	"CLUSTER_IDENTITY_SEED":                    "identity",
	"CLUSTER_PEERNAME":                         "peer name",
	"CLUSTER_PEER_MULTIADDRS":                  "addresses",
	"CLUSTER_PEER_INDICES":                     "addresses",
	"CLUSTER_LISTENMULTIADDRESS":               "addresses",
	"CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS":   "addresses",
	"CLUSTER_IPFSHTTP_NODEMULTIADDRESS":        "addresses",
	"CLUSTER_IPFSPROXY_LISTENMULTIADDRESS":     "addresses",
	"CLUSTER_IPFSPROXY_NODEMULTIADDRESS":       "addresses",
	"CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS": "addresses",
	"CLUSTER_METRICS_PROMETHEUSENDPOINT":       "addresses",
	"CLUSTER_RESTAPI_BASICAUTHCREDENTIALS":     "credentials",
	"CLUSTER_PINSVCAPI_BASICAUTHCREDENTIALS":   "credentials",
	"CLUSTER_TAGS_TAGS":                        "tags",
	// Upstream's allocate_by names a tag (group) the shipped tags do not
	// have: the allocator would skip every peer.
	"CLUSTER_BALANCED_ALLOCATEBY": "tags (the allocator's order names the shipped tags)",
	// The workload: both profiles pin with the configuration's
	// replication (upstream's -1 would pin everywhere, another workload).
	"CLUSTER_REPLICATIONFACTORMIN": "workload (replication)",
	"CLUSTER_REPLICATIONFACTORMAX": "workload (replication)",
	// An option of the shipped datastore: upstream's pebble (its
	// IPFS_CLUSTER_DATASTORE) has no such option and never syncs a write.
	"CLUSTER_LEVELDB_LEVELDBOPTIONS_NOSYNC": "an option of leveldb, which the upstream profile does not use (pebble never syncs a write)",
}

// datastoreVariable picks the cluster datastore the entrypoint's init
// uses on an empty volume.
const datastoreVariable = "IPFS_CLUSTER_DATASTORE"

// ProfileSetting is one tuning variable: the shipped value and upstream's,
// and where upstream's comes from.
type ProfileSetting struct {
	Name, Shipped, Upstream, Source string
}

// entrypointExport matches the entrypoint's production settings,
// `export NAME="${NAME:-default}"`.
var entrypointExport = regexp.MustCompile(`(?m)^export (CLUSTER_[A-Z0-9_]+)="\$\{([A-Z0-9_]+):-(.*)\}"$`)

// entrypointSettings returns the CLUSTER_* settings the entrypoint exports
// with a default, and those defaults.
func entrypointSettings(script string) map[string]string {
	out := map[string]string{}
	for _, m := range entrypointExport.FindAllStringSubmatch(script, -1) {
		if m[1] == m[2] {
			out[m[1]] = m[3]
		}
	}
	return out
}

// shippedClusterSettings is every CLUSTER_* variable the shipped
// configuration gives peer 0: the entrypoint's defaults, replaced by the
// task definition's environment where it sets one.
func (c *Cluster) shippedClusterSettings() (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(c.opt.RepoRoot, clusterEntrypoint))
	if err != nil {
		return nil, err
	}
	out := entrypointSettings(string(b))
	_, cluster := c.deployed(c.Peers[0].Index, len(c.Peers))
	for k, v := range cluster {
		if strings.HasPrefix(k, "CLUSTER_") {
			out[k] = v
		}
	}
	return out, nil
}

// serviceJSONVariables flattens a service.json into the environment
// variables ipfs-cluster reads for each value (envconfig: CLUSTER_ for the
// cluster section, CLUSTER_<SECTION>_ for a component's, then the JSON
// keys without underscores), with the value as a variable spells it.
func serviceJSONVariables(serviceJSON []byte) (map[string]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(serviceJSON, &top); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(prefix string, raw json.RawMessage) error
	walk = func(prefix string, raw json.RawMessage) error {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return err
		}
		for k, v := range obj {
			name := prefix + "_" + strings.ToUpper(strings.ReplaceAll(k, "_", ""))
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			switch val := x.(type) {
			case map[string]any:
				if err := walk(name, v); err != nil {
					return err
				}
			case []any:
				var parts []string
				for _, e := range val {
					parts = append(parts, fmt.Sprint(e))
				}
				out[name] = strings.Join(parts, ",")
			case float64:
				out[name] = strconv.FormatFloat(val, 'f', -1, 64)
			case nil:
				out[name] = ""
			default:
				out[name] = fmt.Sprint(val)
			}
		}
		return nil
	}
	for group, raw := range top {
		if group == "cluster" {
			if err := walk("CLUSTER", raw); err != nil {
				return nil, err
			}
			continue
		}
		var sections map[string]json.RawMessage
		if err := json.Unmarshal(raw, &sections); err != nil {
			continue // not a group of components
		}
		for section, v := range sections {
			if err := walk("CLUSTER_"+strings.ToUpper(section), v); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", group, section, err)
			}
		}
	}
	return out, nil
}

// serviceJSONDatastore is the datastore a service.json configures (the one
// key of its datastore section).
func serviceJSONDatastore(serviceJSON []byte) (string, error) {
	var cfg struct {
		Datastore map[string]json.RawMessage `json:"datastore"`
	}
	if err := json.Unmarshal(serviceJSON, &cfg); err != nil {
		return "", err
	}
	if len(cfg.Datastore) != 1 {
		return "", fmt.Errorf("service.json names %d datastores, want 1", len(cfg.Datastore))
	}
	return slices.Collect(maps.Keys(cfg.Datastore))[0], nil
}

// upstreamProfile maps the shipped settings onto upstream's service.json:
// every tuning variable gets upstream's value, from service.json or, for
// the settings init leaves out at their default, from defaults (see
// sourceDefaults); any that neither holds is an error (a new shipped
// setting the profile cannot cover). It returns the settings in name order
// and the environment (datastore included) that turns a shipped peer into
// an upstream one.
func upstreamProfile(shipped map[string]string, serviceJSON []byte, defaults map[string][2]string) ([]ProfileSetting, []string, error) {
	vars, err := serviceJSONVariables(serviceJSON)
	if err != nil {
		return nil, nil, err
	}
	ds, err := serviceJSONDatastore(serviceJSON)
	if err != nil {
		return nil, nil, err
	}
	var settings []ProfileSetting
	var env, missing []string
	for _, name := range slices.Sorted(maps.Keys(shipped)) {
		if _, ok := notTuning[name]; ok {
			continue
		}
		up, source := vars[name], "service.json"
		if _, ok := vars[name]; !ok {
			d, ok := defaults[name]
			if !ok {
				missing = append(missing, name)
				continue
			}
			up, source = d[0], d[1]+" (init leaves it out at its default)"
		}
		settings = append(settings, ProfileSetting{Name: name, Shipped: shipped[name], Upstream: up, Source: source})
		env = append(env, name+"="+up)
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("the shipped configuration sets %s, for which neither upstream's service.json nor its source has a default: classify it in notTuning or map it", strings.Join(missing, ", "))
	}
	settings = append(settings, ProfileSetting{Name: datastoreVariable, Shipped: "leveldb (the entrypoint's)", Upstream: ds, Source: "service.json"})
	env = append(env, datastoreVariable+"="+ds)
	return settings, env, nil
}

// upstreamServiceJSON runs `ipfs-cluster-service init --consensus crdt` in
// a temporary directory with no CLUSTER_* environment and returns the
// service.json it wrote.
func upstreamServiceJSON(ctx context.Context, bin string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "upstream-service-json-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cmd := exec.CommandContext(ctx, bin, "--config", dir, "init", "--consensus", "crdt")
	cmd.Env = baseEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ipfs-cluster-service init: %w: %s", err, out)
	}
	return os.ReadFile(filepath.Join(dir, "service.json"))
}

// UpstreamProfile returns the upstream profile for this cluster's shipped
// configuration (see upstreamProfile).
func (c *Cluster) UpstreamProfile(ctx context.Context) ([]ProfileSetting, []string, error) {
	if err := c.checkBin(); err != nil {
		return nil, nil, err
	}
	shipped, err := c.shippedClusterSettings()
	if err != nil {
		return nil, nil, err
	}
	sj, err := upstreamServiceJSON(ctx, c.opt.Bin.ClusterService)
	if err != nil {
		return nil, nil, err
	}
	src, err := upstreamSource(ctx, c.opt.RepoRoot)
	if err != nil {
		return nil, nil, err
	}
	defaults, err := sourceDefaults(src, slices.Collect(maps.Keys(shipped)))
	if err != nil {
		return nil, nil, err
	}
	return upstreamProfile(shipped, sj, defaults)
}

// upstreamSource is the source of the ipfs-cluster module the binaries are
// built from (test/binaries/ipfs-cluster's requirement, in the module
// cache).
func upstreamSource(ctx context.Context, repoRoot string) (string, error) {
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Dir}}", clusterModule)
	cmd.Dir = filepath.Join(repoRoot, clusterBinModule)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", clusterModule, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// sourceDefaults finds upstream's defaults of the variables service.json
// leaves out (ipfs-cluster's ToJSON omits some settings while at their
// default, e.g. crdt's rebroadcast_interval): the Default<Field> constant
// of the component whose envconfig key is the variable's prefix (its
// config.go; the cluster section's is cluster_config.go). It returns each
// value with the file it came from.
func sourceDefaults(src string, names []string) (map[string][2]string, error) {
	files, err := filepath.Glob(filepath.Join(src, "*", "*", "config.go"))
	if err != nil {
		return nil, err
	}
	files = append(files, filepath.Join(src, "cluster_config.go"))
	byKey := map[string]*ast.File{}
	rel := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, err
		}
		key := ""
		if filepath.Base(f) == "cluster_config.go" {
			key = "cluster"
		}
		ast.Inspect(af, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && len(vs.Values) == 1 && strings.HasSuffix(vs.Names[0].Name, "nvConfigKey") {
				if lit, ok := vs.Values[0].(*ast.BasicLit); ok && key == "" {
					key, _ = strconv.Unquote(lit.Value)
				}
			}
			return true
		})
		if key != "" {
			byKey[strings.ToUpper(key)] = af
			rel[strings.ToUpper(key)], _ = filepath.Rel(src, f)
		}
	}
	out := map[string][2]string{}
	for _, name := range names {
		// The longest component key that prefixes the name.
		best := ""
		for key := range byKey {
			if strings.HasPrefix(name, key+"_") && len(key) > len(best) {
				best = key
			}
		}
		if best == "" {
			continue
		}
		field := "DEFAULT" + strings.ReplaceAll(strings.TrimPrefix(name, best+"_"), "_", "")
		ast.Inspect(byKey[best], func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != len(vs.Values) {
				return true
			}
			for i, id := range vs.Names {
				if strings.ToUpper(id.Name) == field {
					if v, ok := constValue(vs.Values[i]); ok {
						out[name] = [2]string{v, rel[best]}
					}
				}
			}
			return true
		})
	}
	return out, nil
}

// timeUnits are the time package's duration constants.
var timeUnits = map[string]time.Duration{
	"Nanosecond": time.Nanosecond, "Microsecond": time.Microsecond, "Millisecond": time.Millisecond,
	"Second": time.Second, "Minute": time.Minute, "Hour": time.Hour,
}

// constValue evaluates the simple constant expressions upstream's defaults
// use (literals, true/false, time units and products of them), spelled as
// an environment variable would be.
func constValue(e ast.Expr) (string, bool) {
	d, isDur, ok := evalConst(e)
	if !ok {
		if lit, ok := e.(*ast.BasicLit); ok {
			if lit.Kind == token.STRING {
				s, err := strconv.Unquote(lit.Value)
				return s, err == nil
			}
			return lit.Value, true
		}
		if id, ok := e.(*ast.Ident); ok && (id.Name == "true" || id.Name == "false") {
			return id.Name, true
		}
		return "", false
	}
	if isDur {
		return time.Duration(d).String(), true
	}
	return strconv.FormatInt(d, 10), true
}

func evalConst(e ast.Expr) (v int64, isDur, ok bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.INT {
			n, err := strconv.ParseInt(x.Value, 0, 64)
			return n, false, err == nil
		}
	case *ast.SelectorExpr:
		if pkg, ok := x.X.(*ast.Ident); ok && pkg.Name == "time" {
			u, ok := timeUnits[x.Sel.Name]
			return int64(u), true, ok
		}
	case *ast.ParenExpr:
		return evalConst(x.X)
	case *ast.BinaryExpr:
		a, da, ok1 := evalConst(x.X)
		b, db, ok2 := evalConst(x.Y)
		if ok1 && ok2 && x.Op == token.MUL {
			return a * b, da || db, true
		}
	}
	return 0, false, false
}
