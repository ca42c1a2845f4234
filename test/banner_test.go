package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	// jsii's race at the kernel's exit (internal/jsiiexit) shows in about
	// one run of four without it.
	if strings.Contains(string(out), "exited abnormally") {
		t.Fatalf("the app's exit printed jsii's race line:\n%s", out)
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
