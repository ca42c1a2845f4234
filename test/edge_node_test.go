package test

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEdgeNodeTests runs the Lambda handlers' own tests (node:test): the
// Lambda@Edge ones and the constructs' (the backup vault emptier, the
// cross-region pinset check), so that
// `go test ./...` covers them too. Node.js is a prerequisite of the project
// (the CDK runs on it): a missing node is a failure, not a skip.
func TestEdgeNodeTests(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found on PATH (Node.js is a prerequisite): %v", err)
	}
	root := absRepoRoot(t)
	var files []string
	for _, dir := range []string{"lambda-edge", "constructs"} {
		err = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".test.mjs") {
				rel, err := filepath.Rel(root, path)
				if err != nil {
					return err
				}
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		filepath.Join("constructs", "backup", "emptier", "index.test.mjs"),
		filepath.Join("constructs", "monitoring", "regionlag", "index.test.mjs"),
	} {
		if !slices.Contains(files, want) {
			t.Fatalf("%s is missing from %v", want, files)
		}
	}
	if len(files) == 0 {
		t.Fatal("no lambda-edge/**/*.test.mjs or constructs/**/*.test.mjs found")
	}
	// Files are named explicitly: how `node --test <dir>` treats a
	// directory differs between Node.js versions.
	cmd := exec.Command(node, append([]string{"--test"}, files...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %s failed: %v\n%s", strings.Join(files, " "), err, out)
	}
	t.Logf("node --test %s: passed", strings.Join(files, " "))
}
