package localcluster

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secrets are what the stack generates into Secrets Manager at deploy time:
// the identity seed every peer derives its key and the cluster secret from,
// and the REST API credentials. Locally they live in <root>/secrets.env
// (mode 0600), generated on first use and kept: peer identities stay the
// same across restarts, as in the deployment.
type Secrets struct {
	Seed     string // CLUSTER_IDENTITY_SEED
	Username string // RESTAPI_USERNAME
	Password string // RESTAPI_PASSWORD
}

// env returns the secrets as the container environment carries them.
func (s Secrets) env() []string {
	return []string{
		"CLUSTER_IDENTITY_SEED=" + s.Seed,
		"RESTAPI_USERNAME=" + s.Username,
		"RESTAPI_PASSWORD=" + s.Password,
	}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n random characters from [A-Za-z0-9]: the shape of a
// Secrets Manager generated string without punctuation (never ',' or ':',
// which the REST API credentials map cannot carry).
func randomAlnum(n int) string {
	b := make([]byte, n)
	out := make([]byte, 0, n)
	for len(out) < n {
		rand.Read(b)
		for _, c := range b {
			if c < 248 && len(out) < n { // 248 = 4*62: no modulo bias
				out = append(out, alnum[int(c)%len(alnum)])
			}
		}
	}
	return string(out)
}

// loadOrCreateSecrets reads path, or generates fresh secrets and writes them
// there with mode 0600.
func loadOrCreateSecrets(path string) (Secrets, error) {
	s, err := readSecrets(path)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	s = Secrets{Seed: randomAlnum(64), Username: "admin", Password: randomAlnum(32)}
	content := "# Local stand-in for the secrets the stack generates in Secrets Manager.\n" +
		"# Keep it: the peers' identities derive from CLUSTER_IDENTITY_SEED.\n" +
		strings.Join(s.env(), "\n") + "\n"
	// Write a private temporary file, then link it into place: readers see
	// either no file or a complete one, and a concurrent creator wins once.
	f, err := os.CreateTemp(filepath.Dir(path), ".secrets-*")
	if err != nil {
		return s, err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return s, err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return s, err
	}
	if err := f.Close(); err != nil {
		return s, err
	}
	if err := os.Link(f.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return readSecrets(path)
		}
		return s, err
	}
	return s, nil
}

func readSecrets(path string) (Secrets, error) {
	var s Secrets
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "CLUSTER_IDENTITY_SEED":
			s.Seed = v
		case "RESTAPI_USERNAME":
			s.Username = v
		case "RESTAPI_PASSWORD":
			s.Password = v
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if s.Seed == "" || s.Username == "" || s.Password == "" {
		return s, fmt.Errorf("%s: CLUSTER_IDENTITY_SEED, RESTAPI_USERNAME and RESTAPI_PASSWORD are all required", path)
	}
	return s, nil
}
