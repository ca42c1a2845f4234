package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/dockerfile"
)

// modulePath is the main module; RepoRoot looks for its go.mod.
const modulePath = "github.com/ipfs-cluster-aws/ipfs-cluster-aws"

// Upstream images and the Go modules the local binaries are built from.
const (
	kuboImage         = "ipfs/kubo"
	clusterImage      = "ipfs/ipfs-cluster"
	kuboModule        = "github.com/ipfs/kubo"
	clusterModule     = "github.com/ipfs-cluster/ipfs-cluster"
	kuboDockerfile    = "docker/kubo/Dockerfile"
	clusterDockerfile = "docker/ipfs-cluster/Dockerfile"
	kuboBinModule     = "test/binaries/kubo"
	// kuboPreviousModule builds the release before kuboBinModule's, for
	// the upgrade rehearsal.
	kuboPreviousModule = "test/binaries/kubo-previous"
	clusterBinModule   = "test/binaries/ipfs-cluster"
)

// RepoRoot returns the root of the main module: $IPFS_CLUSTER_AWS_ROOT if set,
// else the first parent of the working directory whose go.mod declares
// modulePath.
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
		if err == nil && modulePathOf(string(b)) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory (set IPFS_CLUSTER_AWS_ROOT)", modulePath)
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

// goModRequire returns the version with which the go.mod at path requires mod.
func goModRequire(path, mod string) (string, error) {
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

// imageVersions reads the kubo and ipfs-cluster tags from the Dockerfiles'
// FROM lines: the one source of truth for the versions the harness builds.
func imageVersions(root string) (Versions, error) {
	var v Versions
	for _, x := range []struct {
		file, image string
		dst         *string
	}{{kuboDockerfile, kuboImage, &v.Kubo}, {clusterDockerfile, clusterImage, &v.Cluster}} {
		d, err := dockerfile.Read(filepath.Join(root, x.file))
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

// checkVersions fails when the nested build modules do not require exactly
// the versions of the Dockerfiles' FROM lines.
func checkVersions(root string) (Versions, error) {
	v, err := imageVersions(root)
	if err != nil {
		return v, err
	}
	var errs []error
	for _, x := range []struct{ dir, mod, want, file string }{
		{kuboBinModule, kuboModule, v.Kubo, kuboDockerfile},
		{clusterBinModule, clusterModule, v.Cluster, clusterDockerfile},
	} {
		got, err := goModRequire(filepath.Join(root, x.dir, "go.mod"), x.mod)
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

// PreviousKuboVersion is the kubo release the upgrade rehearsal starts
// from: the one test/binaries/kubo-previous requires. It must be older than
// the pinned release (the Dockerfile's FROM), or the rehearsal would not be
// an upgrade.
func PreviousKuboVersion(root string) (string, error) {
	prev, err := goModRequire(filepath.Join(root, kuboPreviousModule, "go.mod"), kuboModule)
	if err != nil {
		return "", err
	}
	v, err := imageVersions(root)
	if err != nil {
		return "", err
	}
	if !semverLess(prev, v.Kubo) {
		return "", fmt.Errorf("%s/go.mod requires %s %s, which is not older than %s's FROM %s: set it to the release the deployment runs before this upgrade", kuboPreviousModule, kuboModule, prev, kuboDockerfile, v.Kubo)
	}
	return prev, nil
}

// semverLess compares vMAJOR.MINOR.PATCH release versions.
func semverLess(a, b string) bool {
	pa, pb := semverParts(a), semverParts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

func semverParts(v string) [3]int {
	var out [3]int
	core, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	for i, f := range strings.SplitN(core, ".", 3) {
		n, _ := strconv.Atoi(f)
		out[i] = n
	}
	return out
}
