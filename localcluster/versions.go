// Package localcluster runs the project's images' scripts against real kubo
// and ipfs-cluster binaries on loopback: a local three-peer cluster for users
// (cmd/localcluster) and the scenario tests (test/scenarios).
//
// Nothing here re-implements what the images do. Versions come from the
// Dockerfiles' FROM lines, kubo's environment from the kubo Dockerfile's ENV
// lines, kubo is initialised the way upstream's start_ipfs does it and then
// configured by docker/kubo/container-init.d/*.sh, and every cluster peer is
// started by docker/ipfs-cluster/cluster-entrypoint.sh. Only paths and
// addresses differ, through the environment contract in docker/README.md.
package localcluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ModulePath is the main module; RepoRoot looks for its go.mod.
const ModulePath = "github.com/ipfs-cluster-aws/ipfs-cluster-aws"

// Upstream images and the Go modules the local binaries are built from.
const (
	KuboImage         = "ipfs/kubo"
	ClusterImage      = "ipfs/ipfs-cluster"
	KuboModule        = "github.com/ipfs/kubo"
	ClusterModule     = "github.com/ipfs-cluster/ipfs-cluster"
	KuboDockerfile    = "docker/kubo/Dockerfile"
	ClusterDockerfile = "docker/ipfs-cluster/Dockerfile"
	KuboBinModule     = "test/binaries/kubo"
	ClusterBinModule  = "test/binaries/ipfs-cluster"
)

// RepoRoot returns the root of the main module: $IPFS_CLUSTER_AWS_ROOT if set,
// else the first parent of the working directory whose go.mod declares
// ModulePath.
func RepoRoot() (string, error) {
	if r := os.Getenv("IPFS_CLUSTER_AWS_ROOT"); r != "" {
		return filepath.Abs(r)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePathOf(string(b)) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory (set IPFS_CLUSTER_AWS_ROOT)", ModulePath)
		}
		dir = parent
	}
}

func modulePathOf(gomod string) string {
	for _, l := range strings.Split(gomod, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// Dockerfile is what the harness reads from one of the images' Dockerfiles.
type Dockerfile struct {
	// From maps each FROM image (without tag) to its tag, e.g.
	// "ipfs/kubo" -> "v0.43.0".
	From map[string]string
	// Env holds the ENV lines of the final stage, in order (later wins).
	Env []EnvVar
	// Entrypoint and Cmd of the final stage (nil when not set there).
	Entrypoint, Cmd []string
}

// EnvVar is one NAME=value pair.
type EnvVar struct{ Name, Value string }

var fromRE = regexp.MustCompile(`(?i)^FROM\s+(?:--\S+\s+)*([^\s:@]+(?:/[^\s:@]+)*)(?::([^\s@]+))?(?:@\S+)?(?:\s+AS\s+\S+)?\s*$`)

// ReadDockerfile parses FROM and ENV lines (with line continuations) of a
// Dockerfile. ENV values are taken literally after removing one level of
// double or single quotes; ${VAR} references to earlier ENV lines of the
// same stage are expanded.
func ReadDockerfile(path string) (*Dockerfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &Dockerfile{From: map[string]string{}}
	var logical []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(t, "#") {
			continue
		}
		if strings.HasSuffix(t, `\`) {
			cur.WriteString(strings.TrimSuffix(t, `\`))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(t)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur.Len() > 0 {
		logical = append(logical, cur.String())
	}
	for _, l := range logical {
		kw, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(kw) {
		case "FROM":
			m := fromRE.FindStringSubmatch(l)
			if m == nil {
				return nil, fmt.Errorf("%s: cannot parse %q", path, l)
			}
			d.From[m[1]] = m[2]
			// ENV, ENTRYPOINT and CMD of earlier stages do not reach the
			// final image.
			d.Env, d.Entrypoint, d.Cmd = nil, nil, nil
		case "CMD", "ENTRYPOINT":
			var args []string
			rest = strings.TrimSpace(rest)
			if strings.HasPrefix(rest, "[") {
				if err := json.Unmarshal([]byte(rest), &args); err != nil {
					return nil, fmt.Errorf("%s: %q: %w", path, l, err)
				}
			} else {
				args = []string{"/bin/sh", "-c", rest}
			}
			if strings.EqualFold(kw, "CMD") {
				d.Cmd = args
			} else {
				d.Entrypoint = args
			}
		case "ENV":
			vars, err := parseEnv(strings.TrimSpace(rest))
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", path, l, err)
			}
			for _, v := range vars {
				v.Value = os.Expand(v.Value, func(name string) string {
					for i := len(d.Env) - 1; i >= 0; i-- {
						if d.Env[i].Name == name {
							return d.Env[i].Value
						}
					}
					return ""
				})
				d.Env = append(d.Env, v)
			}
		}
	}
	return d, nil
}

// parseEnv handles "ENV K=V K2="v 2"" and the legacy "ENV K V" form.
func parseEnv(s string) ([]EnvVar, error) {
	first, _, _ := strings.Cut(s, " ")
	if !strings.Contains(first, "=") {
		name, val, _ := strings.Cut(s, " ")
		return []EnvVar{{name, strings.TrimSpace(val)}}, nil
	}
	var out []EnvVar
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, errors.New("expected NAME=value")
		}
		name := s[:eq]
		s = s[eq+1:]
		var val strings.Builder
		var quote byte
		i := 0
	loop:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case quote != 0 && c == quote:
				quote = 0
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != '\'' && c == '\\' && i+1 < len(s):
				i++
				val.WriteByte(s[i])
			case quote == 0 && (c == ' ' || c == '\t'):
				break loop
			default:
				val.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, errors.New("unterminated quote")
		}
		out = append(out, EnvVar{name, val.String()})
		s = s[i:]
	}
	return out, nil
}

// GoModRequire returns the version with which the go.mod at path requires mod.
func GoModRequire(path, mod string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require "))
		if len(f) >= 2 && f[0] == mod {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("%s does not require %s", path, mod)
}

// Versions are the upstream releases the images are built FROM.
type Versions struct {
	Kubo    string
	Cluster string
}

// ImageVersions reads the kubo and ipfs-cluster tags from the Dockerfiles'
// FROM lines: the one source of truth for the versions the harness builds.
func ImageVersions(root string) (Versions, error) {
	var v Versions
	for _, x := range []struct {
		file, image string
		dst         *string
	}{{KuboDockerfile, KuboImage, &v.Kubo}, {ClusterDockerfile, ClusterImage, &v.Cluster}} {
		d, err := ReadDockerfile(filepath.Join(root, x.file))
		if err != nil {
			return v, err
		}
		tag := ""
		for img, t := range d.From {
			if img == x.image || strings.HasSuffix(img, "/"+x.image) {
				tag = t
			}
		}
		if tag == "" {
			return v, fmt.Errorf("%s: no FROM %s:<tag> line", x.file, x.image)
		}
		*x.dst = tag
	}
	return v, nil
}

// CheckVersions fails when the nested build modules do not require exactly
// the versions of the Dockerfiles' FROM lines.
func CheckVersions(root string) (Versions, error) {
	v, err := ImageVersions(root)
	if err != nil {
		return v, err
	}
	var errs []error
	for _, x := range []struct{ dir, mod, want, file string }{
		{KuboBinModule, KuboModule, v.Kubo, KuboDockerfile},
		{ClusterBinModule, ClusterModule, v.Cluster, ClusterDockerfile},
	} {
		got, err := GoModRequire(filepath.Join(root, x.dir, "go.mod"), x.mod)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got != x.want {
			errs = append(errs, fmt.Errorf("%s/go.mod requires %s %s but %s is FROM %s", x.dir, x.mod, got, x.file, x.want))
		}
	}
	return v, errors.Join(errs...)
}
