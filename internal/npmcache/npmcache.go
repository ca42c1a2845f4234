// Package npmcache installs pinned npm packages that tests run (the
// Pinning Service API compliance suite, Mermaid's parser) once into the
// user cache, so later runs need neither npm's registry nor a download.
package npmcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNoNpm is returned where npm is not installed: the caller skips what
// needs the packages, saying so.
var ErrNoNpm = errors.New("npm is not installed")

// complete marks an install that finished, prepare included.
const complete = ".complete"

// Install returns a directory whose node_modules holds packages
// ("name@version" each), installed once under <user cache
// dir>/ipfs-cluster-aws/npm/<name>. Install scripts are not run (nothing
// is fetched at run time). prepare, if not nil, runs on a fresh install
// before it is kept (to patch what the packages would otherwise fetch).
// Concurrent installs of the same name are safe: each works in a directory
// of its own and the first to finish is kept.
func Install(ctx context.Context, name string, packages []string, prepare func(dir string) error) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "ipfs-cluster-aws", "npm", name)
	if _, err := os.Stat(filepath.Join(dir, complete)); err == nil {
		return dir, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", ErrNoNpm
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	args := append([]string{"install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", tmp}, packages...)
	if out, err := exec.CommandContext(ctx, "npm", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %v: %v\n%s", packages, err, out)
	}
	if prepare != nil {
		if err := prepare(tmp); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, complete), nil, 0o644); err != nil {
		return "", err
	}
	// An unfinished earlier install (no marker) is replaced; a finished
	// one of a concurrent run is kept.
	if _, err := os.Stat(filepath.Join(dir, complete)); err != nil {
		_ = os.RemoveAll(dir)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, done := os.Stat(filepath.Join(dir, complete)); done != nil {
			return "", err
		}
	}
	return dir, nil
}
