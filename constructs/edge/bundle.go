package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	lambdaedge "github.com/ipfs-cluster-aws/ipfs-cluster-aws/lambda-edge"
)

const (
	// Realm announced in WWW-Authenticate.
	authRealm = "IPFS Cluster"
)

// authConfig is config.json in the Lambda@Edge bundle: names only, never a
// secret value. Field order is fixed, so the bytes (and the asset hash)
// depend only on the values.
type authConfig struct {
	SecretName      string `json:"secretName"`
	TokenSecretName string `json:"tokenSecretName"`
	SecretRegion    string `json:"secretRegion"`
	Realm           string `json:"realm"`
}

// authBundleFiles returns the files of the Basic-auth bundle.
func authBundleFiles(secretName string) (map[string][]byte, error) {
	cfg, err := json.MarshalIndent(authConfig{
		SecretName:      secretName,
		TokenSecretName: edgespec.PSATokenKeySecretName(secretName),
		SecretRegion:    edgespec.Region,
		Realm:           authRealm,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"index.mjs":   lambdaedge.BasicAuthIndex,
		"psa.mjs":     lambdaedge.BasicAuthPSA,
		"config.json": append(cfg, '\n'),
	}, nil
}

// stageAuthBundle writes the bundle into a directory named after its content
// under the OS temp dir and returns it. Same inputs, same directory and same
// bytes, so the CDK asset hash is stable across synths and machines.
func stageAuthBundle(secretName string) (string, error) {
	files, err := authBundleFiles(secretName)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range []string{"config.json", "index.mjs", "psa.mjs"} {
		_, _ = fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	dir := filepath.Join(os.TempDir(), "ipfs-cluster-aws-edge", "basic-auth-"+hex.EncodeToString(h.Sum(nil))[:20])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("edge: staging the Lambda@Edge bundle: %w", err)
	}
	for name, data := range files {
		// Write-then-rename: concurrent synths never see a partial file. The
		// temporary file lives beside the bundle directory, not in it, so a
		// leftover can never end up in the asset.
		tmp, err := os.CreateTemp(filepath.Dir(dir), "."+name+".*")
		if err != nil {
			return "", fmt.Errorf("edge: staging the Lambda@Edge bundle: %w", err)
		}
		_, werr := tmp.Write(data)
		cerr := tmp.Close()
		if werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), 0o644)
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), filepath.Join(dir, name))
		}
		if werr != nil {
			_ = os.Remove(tmp.Name())
			return "", fmt.Errorf("edge: staging the Lambda@Edge bundle: %w", werr)
		}
	}
	return dir, nil
}
