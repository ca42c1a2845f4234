package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/jsiienv"
)

// TestAppPrintsNoNodeBanner runs the app as `cdk synth` does (its own
// process, the variable unset) and checks that jsii's Node 20 end-of-life
// banner stays silent: internal/jsiienv must act before the CDK bindings
// initialise, which only a separate process can show.
func TestAppPrintsNoNodeBanner(t *testing.T) {
	dir := t.TempDir()
	bin := buildApp(t, dir)
	cmd := exec.Command(bin)
	cmd.Dir = repoRoot
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, jsiienv.Variable+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "CDK_OUTDIR="+filepath.Join(dir, "cdk.out"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("app: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "end-of-life") {
		t.Fatalf("the app printed jsii's end-of-life banner:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "cdk.out", "manifest.json")); err != nil {
		t.Fatalf("the app wrote no cloud assembly: %v", err)
	}
}

func buildApp(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestKernelKeepsACodeCache runs the app twice as `cdk synth` does, with an
// empty cache directory: the first synth must leave the kernel's code cache
// there (only the hook internal/jsiienv preloads into the kernel writes it,
// so this also shows the hook reached the kernel), and the second must find
// every module in it (nothing compiled anew, so the file is not rewritten).
func TestKernelKeepsACodeCache(t *testing.T) {
	dir := t.TempDir()
	bin := buildApp(t, dir)
	cacheHome := filepath.Join(dir, "cache")
	synth := func(n int) {
		cmd := exec.Command(bin)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome, "NODE_OPTIONS=", jsiienv.CompileCacheVariable+"=",
			"CDK_OUTDIR="+filepath.Join(dir, fmt.Sprintf("cdk.out.%d", n)))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("app: %v\n%s", err, out)
		}
	}
	kernelCache := func() os.FileInfo {
		t.Helper()
		files, err := filepath.Glob(filepath.Join(cacheHome, "ipfs-cluster-aws", "node-compile-cache", "cache-*.bin"))
		require.NoError(t, err)
		var largest os.FileInfo
		for _, f := range files {
			info, err := os.Stat(f)
			require.NoError(t, err)
			if largest == nil || info.Size() > largest.Size() {
				largest = info
			}
		}
		require.NotNil(t, largest, "no code cache after a synth")
		return largest
	}
	synth(1)
	first := kernelCache()
	// aws-cdk-lib alone compiles to megabytes of code cache.
	assert.Greater(t, first.Size(), int64(1<<20), "the kernel's code cache")
	synth(2)
	second := kernelCache()
	assert.Equal(t, first.ModTime(), second.ModTime(), "the second synth compiled modules anew")
	assert.Equal(t, first.Size(), second.Size())
}
