package test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSourcesAreFormattedAndVetted keeps `gofmt` and `go vet` clean without a
// separate CI step.
func TestSourcesAreFormattedAndVetted(t *testing.T) {
	out, err := exec.Command("gofmt", "-l", repoRoot).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Empty(t, strings.TrimSpace(string(out)), "files need gofmt")

	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = repoRoot
	out, err = cmd.CombinedOutput()
	assert.NoError(t, err, "go vet:\n%s", out)
}

// TestNoGeneratedOutputIsTracked: synth output and binaries stay out of git.
func TestNoGeneratedOutputIsTracked(t *testing.T) {
	cmd := exec.Command("git", "ls-files")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	for _, file := range strings.Split(string(out), "\n") {
		assert.False(t, strings.HasPrefix(file, "cdk.out/") || strings.Contains(file, "/cdk.out/"), "generated file tracked: %s", file)
		assert.False(t, strings.HasSuffix(file, ".test") || strings.HasSuffix(file, ".exe"), "binary tracked: %s", file)
	}
}
