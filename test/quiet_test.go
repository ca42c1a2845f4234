package test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigErrorPrintsOnlyTheProblems runs cdk.json's app command as
// `cdk synth -c nodeCount=99` runs it (through a shell, the context in
// CDK_CONTEXT_JSON): it must fail with the problems and nothing else, no
// "exit status 1" of a `go run` wrapper, no jsii line run into them.
// What the CDK CLI then adds is the CLI's (README, Configuration).
func TestConfigErrorPrintsOnlyTheProblems(t *testing.T) {
	var cdkJSON struct{ App string }
	b, err := os.ReadFile(filepath.Join(repoRoot, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cdkJSON); err != nil {
		t.Fatal(err)
	}
	ctx, err := json.Marshal(cdkJSONContext(map[string]any{"nodeCount": "99"}))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", cdkJSON.App)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CDK_CONTEXT_JSON="+string(ctx), "CDK_OUTDIR="+filepath.Join(t.TempDir(), "cdk.out"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if _, failed := err.(*exec.ExitError); !failed {
		t.Fatalf("the app must exit non-zero on a bad configuration, got %v\nstderr:\n%s", err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout must be empty, got %q", stdout.String())
	}
	got := stderr.String()
	if !strings.HasSuffix(got, "\n") {
		t.Errorf("stderr must end with a newline (nothing may run into the next line): %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "invalid configuration") {
		t.Errorf("the first line must introduce the problems, got %q", lines[0])
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "  - ") {
			t.Errorf("only problems may follow, got %q in:\n%s", l, got)
		}
	}
	if !strings.Contains(got, "  - nodeCount: 99 is out of range") {
		t.Errorf("the problem with nodeCount is missing:\n%s", got)
	}
}
