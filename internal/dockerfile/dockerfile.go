// Package dockerfile reads what this repository checks in the images'
// Dockerfiles without Docker: the FROM tags and digests (the versions the
// local cluster builds, the pins), and the final stage's ENV, ENTRYPOINT, CMD,
// USER and VOLUME (what a container of the image starts with, as whom, and
// which paths a task-local volume takes its ownership and mode from).
package dockerfile

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// File is what the harness reads from one of the images' Dockerfiles.
type File struct {
	// From maps each FROM image (without tag) to its tag, e.g.
	// "ipfs/kubo" -> "v0.43.0", and FromDigest to its digest
	// ("sha256:..."), when the line names one.
	From, FromDigest map[string]string
	// FinalFrom is the final stage's FROM image (without tag).
	FinalFrom string
	// Env holds the ENV lines of the final stage, in order (later wins).
	Env []EnvVar
	// Entrypoint and Cmd of the final stage (nil when not set there).
	Entrypoint, Cmd []string
	// User is the final stage's last USER ("" when the stage sets none:
	// then its base image's user applies).
	User string
	// Volumes are the final stage's VOLUME paths, in order.
	Volumes []string
	// Final lists the final stage's instructions after its FROM, in order,
	// as written (RUN's variables are the shell's business).
	Final []Instruction
}

// Instruction is one instruction: its keyword in upper case and the rest of
// the (joined) line.
type Instruction struct{ Keyword, Args string }

// EnvVar is one NAME=value pair.
type EnvVar struct{ Name, Value string }

var fromRE = regexp.MustCompile(`(?i)^FROM\s+(?:--\S+\s+)*([^\s:@]+(?:/[^\s:@]+)*)(?::([^\s@]+))?(?:@(\S+))?(?:\s+AS\s+\S+)?\s*$`)

// Read parses a Dockerfile (with line continuations). ENV values are taken
// literally after removing one level of double or single quotes; in ENV,
// USER and VOLUME, ${VAR} references to earlier ENV lines of the same stage
// are expanded (ARG values are not known here).
func Read(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	d := &File{From: map[string]string{}, FromDigest: map[string]string{}}
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
	expand := func(s string) string {
		return os.Expand(s, func(name string) string {
			for i := len(d.Env) - 1; i >= 0; i-- {
				if d.Env[i].Name == name {
					return d.Env[i].Value
				}
			}
			return ""
		})
	}
	for _, l := range logical {
		kw, rest, _ := strings.Cut(l, " ")
		kw = strings.ToUpper(kw)
		rest = strings.TrimSpace(rest)
		if kw != "FROM" {
			d.Final = append(d.Final, Instruction{kw, rest})
		}
		switch kw {
		case "FROM":
			m := fromRE.FindStringSubmatch(l)
			if m == nil {
				return nil, fmt.Errorf("%s: cannot parse %q", path, l)
			}
			d.From[m[1]] = m[2]
			if m[3] != "" {
				d.FromDigest[m[1]] = m[3]
			}
			d.FinalFrom = m[1]
			// What earlier stages set does not reach the final image.
			d.Env, d.Entrypoint, d.Cmd, d.User, d.Volumes, d.Final = nil, nil, nil, "", nil, nil
		case "USER":
			d.User = expand(rest)
		case "VOLUME":
			var paths []string
			if strings.HasPrefix(rest, "[") {
				if err := json.Unmarshal([]byte(rest), &paths); err != nil {
					return nil, fmt.Errorf("%s: %q: %w", path, l, err)
				}
			} else {
				paths = strings.Fields(rest)
			}
			for _, p := range paths {
				d.Volumes = append(d.Volumes, expand(p))
			}
		case "CMD", "ENTRYPOINT":
			var args []string
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
			vars, err := parseEnv(rest)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", path, l, err)
			}
			for _, v := range vars {
				v.Value = expand(v.Value)
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
