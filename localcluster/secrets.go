package localcluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/psatoken"
)

// Secrets are what the stack generates into Secrets Manager at deploy time:
// the identity seed every peer derives its key and the cluster secret from,
// the REST API credentials, and the Pinning Service API's token key secret
// (the edge's only). Locally they live in <root>/secrets.env
// (mode 0600), generated on first use and kept: peer identities stay the
// same across restarts, as in the deployment.
type Secrets struct {
	Seed     string // nodespec.IdentitySeedVariable
	Username string // nodespec.RestAPIUsernameVariable
	Password string // nodespec.RestAPIPasswordVariable
	// PSATokenSecret is the token key secret's value, the JSON the edge
	// reads from Secrets Manager (package psatoken), on one line under
	// PSATokenSecretVariable. Never in a peer's environment.
	PSATokenSecret string
}

// PSATokenSecretVariable names the token key secret in the secrets file.
const PSATokenSecretVariable = "PSA_TOKEN_SECRET"

// env returns the secrets as the container environment carries them.
func (s Secrets) env() []string {
	return []string{
		nodespec.IdentitySeedVariable + "=" + s.Seed,
		nodespec.RestAPIUsernameVariable + "=" + s.Username,
		nodespec.RestAPIPasswordVariable + "=" + s.Password,
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
	s, err := ReadSecrets(path)
	if err == nil && s.PSATokenSecret == "" {
		// A file from before the Pinning Service API: the token key is
		// added, as a stack update creates its secret; the rest stays.
		s.PSATokenSecret = psatoken.New().String()
		return s, writeSecretsFile(path, s)
	}
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	s = Secrets{Seed: randomAlnum(64), Username: "admin", Password: randomAlnum(32), PSATokenSecret: psatoken.New().String()}
	content := secretsFileContent(s)
	// Write a private temporary file, then link it into place: readers see
	// either no file or a complete one, and a concurrent creator wins once.
	f, err := os.CreateTemp(filepath.Dir(path), ".secrets-*")
	if err != nil {
		return s, err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return s, err
	}
	if _, err := f.WriteString(content); err != nil {
		_ = f.Close()
		return s, err
	}
	if err := f.Close(); err != nil {
		return s, err
	}
	if err := os.Link(f.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return ReadSecrets(path)
		}
		return s, err
	}
	return s, nil
}

// RotatePassword gives the REST API a new random password in the secrets
// file, as `aws secretsmanager put-secret-value` does for a deployment: the
// seed and the username stay. As there, nothing running changes at once:
// each peer reads the file when it (re)starts, the local edge when its
// credentials cache expires.
func (c *Cluster) RotatePassword() error {
	s, err := ReadSecrets(c.SecretFile)
	if err != nil {
		return err
	}
	s.Password = randomAlnum(32)
	if err := writeSecretsFile(c.SecretFile, s); err != nil {
		return err
	}
	c.logf("new REST API password written to %s; restart each peer (stop-peer, start-peer) to apply it", c.SecretFile)
	return nil
}

// writeSecretsFile replaces path with s, mode 0600, atomically.
func writeSecretsFile(path string, s Secrets) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".secrets-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.WriteString(secretsFileContent(s)); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func secretsFileContent(s Secrets) string {
	return "# Local stand-in for the secrets the stack generates in Secrets Manager.\n" +
		"# Keep it: the peers' identities derive from CLUSTER_IDENTITY_SEED.\n" +
		strings.Join(s.env(), "\n") + "\n" +
		"# The Pinning Service API's token key secret, read by the local edge only\n" +
		"# (go run ./cmd/psatoken -local <this file> revoke|rotate).\n" +
		PSATokenSecretVariable + "=" + s.PSATokenSecret + "\n"
}

// PSATokenStore is the token key secret in the secrets file at path, for
// psatoken.Update: the local edge reads it again when its cache expires,
// as the deployed function reads Secrets Manager.
func PSATokenStore(path string) psatoken.Store { return secretsFileStore(path) }

type secretsFileStore string

func (f secretsFileStore) Get(context.Context) (string, error) {
	s, err := ReadSecrets(string(f))
	if err == nil && s.PSATokenSecret == "" {
		err = fmt.Errorf("%s: no %s (start the cluster once to add it)", string(f), PSATokenSecretVariable)
	}
	return s.PSATokenSecret, err
}

func (f secretsFileStore) Put(_ context.Context, value string) error {
	s, err := ReadSecrets(string(f))
	if err != nil {
		return err
	}
	s.PSATokenSecret = value
	return writeSecretsFile(string(f), s)
}

// reloadSecrets reads the secrets file again, as an ECS task reads its
// secrets when it starts: a peer (re)started after a rotation gets the new
// password, and so do the cluster's own clients.
func (c *Cluster) reloadSecrets() error {
	s, err := ReadSecrets(c.SecretFile)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.Secrets = s
	c.mu.Unlock()
	return nil
}

// ReadSecrets reads a local cluster's secrets file (<root>/secrets.env).
func ReadSecrets(path string) (Secrets, error) {
	var s Secrets
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case nodespec.IdentitySeedVariable:
			s.Seed = v
		case nodespec.RestAPIUsernameVariable:
			s.Username = v
		case nodespec.RestAPIPasswordVariable:
			s.Password = v
		case PSATokenSecretVariable:
			s.PSATokenSecret = v
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if s.Seed == "" || s.Username == "" || s.Password == "" {
		return s, fmt.Errorf("%s: %s, %s and %s are all required", path, nodespec.IdentitySeedVariable, nodespec.RestAPIUsernameVariable, nodespec.RestAPIPasswordVariable)
	}
	return s, nil
}
