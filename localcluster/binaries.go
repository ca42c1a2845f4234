package localcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
)

// Binaries are the programs a local cluster runs.
type Binaries struct {
	IPFS            string // kubo's ipfs, at the version of docker/kubo's FROM line
	ClusterService  string // ipfs-cluster-service, at docker/ipfs-cluster's FROM version
	ClusterCtl      string // ipfs-cluster-ctl, same version
	ClusterIdentity string // docker/ipfs-cluster/cmd/cluster-identity from this checkout
	PinningService  string // docker/ipfs-cluster/cmd/pinning-service from this checkout
	// RegionProxy links a second local region to the first
	// (localcluster/internal/regionproxy from this checkout).
	RegionProxy string
	Versions    Versions
}

// dirs returns the directories holding the binaries, for PATH.
func (b *Binaries) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range []string{b.IPFS, b.ClusterService, b.ClusterCtl, b.ClusterIdentity} {
		d := filepath.Dir(p)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// binCacheDir is where built binaries are kept between runs:
// $IPFS_CLUSTER_AWS_BIN_CACHE, else <user cache dir>/ipfs-cluster-aws/bin
// ($XDG_CACHE_HOME or ~/.cache).
func binCacheDir() (string, error) {
	if d := os.Getenv("IPFS_CLUSTER_AWS_BIN_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "ipfs-cluster-aws", "bin"), nil
}

// EnsureBinaries builds (once, then reuses from binCacheDir) kubo and
// ipfs-cluster at the versions of the Dockerfiles' FROM lines, from the
// nested modules under test/binaries with their committed go.sum, and
// cluster-identity from this checkout. Progress goes to log (may be nil).
// Safe to call from concurrent processes: each build holds a file lock and
// lands by an atomic rename.
func EnsureBinaries(ctx context.Context, root string, log io.Writer) (*Binaries, error) {
	if log == nil {
		log = io.Discard
	}
	v, err := checkVersions(root)
	if err != nil {
		return nil, err
	}
	cache, err := binCacheDir()
	if err != nil {
		return nil, err
	}
	goBin, err := goTool()
	if err != nil {
		return nil, err
	}
	b := &Binaries{Versions: v}

	kuboDir, err := buildCached(ctx, cache, "kubo-"+v.Kubo, log, func(out string) error {
		return goBuild(ctx, goBin, filepath.Join(root, kuboBinModule), out, log, nil,
			kuboModule+"/cmd/ipfs")
	})
	if err != nil {
		return nil, fmt.Errorf("building kubo %s: %w", v.Kubo, err)
	}
	b.IPFS = filepath.Join(kuboDir, "ipfs")

	// Some ipfs-cluster dependencies are missing from the checksum database;
	// the committed go.sum verifies every module instead (-mod=readonly
	// refuses any module it does not list).
	clusterDir, err := buildCached(ctx, cache, "ipfs-cluster-"+v.Cluster, log, func(out string) error {
		return goBuild(ctx, goBin, filepath.Join(root, clusterBinModule), out, log, []string{"GOSUMDB=off"},
			clusterModule+"/cmd/ipfs-cluster-service", clusterModule+"/cmd/ipfs-cluster-ctl")
	})
	if err != nil {
		return nil, fmt.Errorf("building ipfs-cluster %s: %w", v.Cluster, err)
	}
	b.ClusterService = filepath.Join(clusterDir, "ipfs-cluster-service")
	b.ClusterCtl = filepath.Join(clusterDir, "ipfs-cluster-ctl")

	// cluster-identity and pinning-service are a nested module: built with
	// its own go.mod and go.sum, as the image builds them.
	idModule := filepath.Join(root, "docker", "ipfs-cluster")
	key, err := sourceKey(idModule, "go.mod", "go.sum", "identity", "cmd/cluster-identity", "psa", "cmd/pinning-service")
	if err != nil {
		return nil, err
	}
	idDir, err := buildCached(ctx, cache, "cluster-image-tools-"+key, log, func(out string) error {
		return goBuild(ctx, goBin, idModule, out, log, nil, "./cmd/cluster-identity", "./cmd/pinning-service")
	})
	if err != nil {
		return nil, fmt.Errorf("building cluster-identity and pinning-service: %w", err)
	}
	b.ClusterIdentity = filepath.Join(idDir, "cluster-identity")
	b.PinningService = filepath.Join(idDir, "pinning-service")

	key, err = sourceKey(root, "go.mod", "go.sum", regionProxyDir, "localcluster/internal/netns")
	if err != nil {
		return nil, err
	}
	proxyDir, err := buildCached(ctx, cache, "regionproxy-"+key, log, func(out string) error {
		return goBuild(ctx, goBin, root, out, log, nil, "./"+regionProxyDir+"/cmd/regionproxy")
	})
	if err != nil {
		return nil, fmt.Errorf("building regionproxy: %w", err)
	}
	b.RegionProxy = filepath.Join(proxyDir, "regionproxy")
	return b, nil
}

const regionProxyDir = "localcluster/internal/regionproxy"

// EnsurePreviousKubo builds (once, then reuses) the kubo release of
// test/binaries/kubo-previous and returns the ipfs binary and its version:
// the upgrade rehearsal's starting point.
func EnsurePreviousKubo(ctx context.Context, root string, log io.Writer) (path, version string, err error) {
	if version, err = PreviousKuboVersion(root); err != nil {
		return "", "", err
	}
	cache, err := binCacheDir()
	if err != nil {
		return "", "", err
	}
	goBin, err := goTool()
	if err != nil {
		return "", "", err
	}
	dir, err := buildCached(ctx, cache, "kubo-"+version, log, func(out string) error {
		return goBuild(ctx, goBin, filepath.Join(root, kuboPreviousModule), out, log, nil, kuboModule+"/cmd/ipfs")
	})
	if err != nil {
		return "", "", fmt.Errorf("building kubo %s: %w", version, err)
	}
	return filepath.Join(dir, "ipfs"), version, nil
}

func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	// `go run` and `go test` put their GOROOT/bin first on the PATH, so
	// only a built binary (go build ./cmd/localcluster) run without go on
	// the PATH gets here; the toolchain it was built with, on this
	// machine, is the one at hand. runtime.GOROOT is deprecated for
	// binaries copied to another machine, where the Stat below fails.
	//lint:ignore SA1019 see above
	p := filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: see above
	if _, err := os.Stat(p); err != nil {
		return "", errors.New("the go command is needed to build kubo and ipfs-cluster")
	}
	return p, nil
}

func goBuild(ctx context.Context, goBin, dir, out string, log io.Writer, env []string, pkgs ...string) error {
	args := append([]string{"build", "-o", out + string(os.PathSeparator)}, pkgs...)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	// Nested modules must not be pulled into a go.work of the checkout;
	// -mod=readonly keeps the committed go.sum authoritative.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout = log
	cmd.Stderr = log
	_, _ = fmt.Fprintf(log, "localcluster: go build %s (in %s)\n", strings.Join(pkgs, " "), dir)
	return cmd.Run()
}

// buildCached returns <cache>/<name>, building it with build(tmpdir) under
// an exclusive file lock if it does not hold a completed build yet.
func buildCached(ctx context.Context, cache, name string, log io.Writer, build func(out string) error) (string, error) {
	if log == nil {
		log = io.Discard
	}
	final := filepath.Join(cache, name)
	done := filepath.Join(final, ".complete")
	if _, err := os.Stat(done); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	lf, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer func() { _ = lf.Close() }()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return "", err
		}
		_, _ = fmt.Fprintf(log, "localcluster: waiting for another build of %s (another process holds %s)...\n", name, lf.Name())
		if err := lockFile(ctx, lf); err != nil {
			return "", err
		}
	}
	defer func() { _ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN) }()
	if _, err := os.Stat(done); err == nil {
		return final, nil // another process built it while we waited
	}
	tmp, err := os.MkdirTemp(cache, name+".tmp-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	_, _ = fmt.Fprintf(log, "localcluster: building %s into %s (first run only; this takes minutes)\n", name, final)
	if err := build(tmp); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.RemoveAll(final); err != nil { // an interrupted earlier attempt
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return final, nil
}

// lockFile takes an exclusive flock, giving up when ctx ends.
func lockFile(ctx context.Context, f *os.File) error {
	errc := make(chan error, 1)
	go func() { errc <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sourceKey hashes the named files and directory trees (Go sources and
// go.mod/go.sum) so that a changed cluster-identity is rebuilt.
func sourceKey(root string, paths ...string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		var files []string
		top, err := filepath.EvalSymlinks(filepath.Join(root, p))
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", p, err)
		}
		err = filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", p, err)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			rel, _ := filepath.Rel(top, f)
			rel = p + "/" + rel
			_, _ = fmt.Fprintf(h, "%s %d\n", rel, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
