// Package dockerfile reads what the local cluster needs from the images'
// Dockerfiles: the FROM tags (the versions it builds), and the final stage's
// ENV, ENTRYPOINT and CMD (what a container of the image starts with).
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

// Read parses FROM and ENV lines (with line continuations) of a
// Dockerfile. ENV values are taken literally after removing one level of
// double or single quotes; ${VAR} references to earlier ENV lines of the
// same stage are expanded.
func Read(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &File{From: map[string]string{}}
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
