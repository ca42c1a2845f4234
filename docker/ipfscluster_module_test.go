// Package docker holds no code: its tests bring the nested Go module of the
// ipfs-cluster image (docker/ipfs-cluster, outside the root module's ./...)
// under the root's `go test ./...`, and keep that module buildable by the
// image's pinned Go toolchain.
package docker

import (
	"fmt"
	"go/version"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const clusterModuleDir = "ipfs-cluster"

// TestIpfsClusterModule runs the nested module's own vet and tests, with its
// own go.mod and go.sum, the way the image builds it.
func TestIpfsClusterModule(t *testing.T) {
	// go test caches this result by the files this process opens, not by
	// what the go subprocesses read: open every file of the module so that
	// a change there (or a new file) runs the test again.
	err := filepath.WalkDir(clusterModuleDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			_, err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	timeout := 10 * time.Minute
	if d, ok := t.Deadline(); ok {
		timeout = time.Until(d) - 10*time.Second
	}
	for _, args := range [][]string{
		{"vet", "./..."},
		{"test", "-timeout", timeout.Round(time.Second).String(), "./..."},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = clusterModuleDir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("go %s in docker/%s: %v\n%s", strings.Join(args, " "), clusterModuleDir, err, out)
		} else {
			t.Logf("go %s in docker/%s:\n%s", strings.Join(args, " "), clusterModuleDir, out)
		}
	}
}

// golangFrom matches the Go build stage's image: an exact patch release,
// optionally with a variant and a digest.
var golangFrom = regexp.MustCompile(`^(?:docker\.io/(?:library/)?)?golang:(\d+\.\d+\.\d+)(?:-[a-z0-9.]+)?(?:@sha256:[0-9a-f]{64})?$`)

// TestBuildImageSatisfiesGoMod: the official golang image sets
// GOTOOLCHAIN=local, so a go or toolchain line newer than its Go fails the
// image build (and only there: a developer's newer Go builds it fine).
func TestBuildImageSatisfiesGoMod(t *testing.T) {
	goVersion, err := dockerGolangVersion(clusterModuleDir + "/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(clusterModuleDir + "/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	needs, err := goModNeeds(string(gomod))
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range needs {
		if version.Compare(goVersion, need) < 0 {
			t.Errorf("docker/%s/go.mod needs %s but the Dockerfile builds with golang %s (GOTOOLCHAIN=local): raise the golang tag or lower go.mod", clusterModuleDir, need, strings.TrimPrefix(goVersion, "go"))
		}
	}
}

// dockerGolangVersion returns "go1.X.Y" of the one golang FROM line.
func dockerGolangVersion(dockerfile string) (string, error) {
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		return "", err
	}
	var found []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		image := f[1]
		if strings.HasPrefix(image, "--platform=") && len(f) > 2 {
			image = f[2]
		}
		if !strings.Contains(image, "golang:") {
			continue
		}
		m := golangFrom.FindStringSubmatch(image)
		if m == nil {
			return "", fmt.Errorf("%s: FROM %s: allowed: golang:<major>.<minor>.<patch>[-variant][@sha256:...], an exact Go release", dockerfile, image)
		}
		found = append(found, "go"+m[1])
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%s: want exactly one golang build stage, found %d", dockerfile, len(found))
	}
	return found[0], nil
}

// goModNeeds returns the Go versions a go.mod requires: its go line and, if
// present, its toolchain line.
func goModNeeds(gomod string) ([]string, error) {
	var needs []string
	haveGo := false
	for _, line := range strings.Split(gomod, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "go":
			haveGo = true
			needs = append(needs, "go"+f[1])
		case "toolchain":
			if f[1] != "default" {
				needs = append(needs, f[1])
			}
		}
	}
	if !haveGo {
		return nil, fmt.Errorf("go.mod has no go line")
	}
	for _, v := range needs {
		if !version.IsValid(v) {
			return nil, fmt.Errorf("go.mod: %q is not a Go version", v)
		}
	}
	return needs, nil
}

// TestGoModNeeds pins the parsing the image check relies on.
func TestGoModNeeds(t *testing.T) {
	needs, err := goModNeeds("module x\n\ngo 1.27\n\ntoolchain go1.27.2\n")
	if err != nil || len(needs) != 2 || version.Compare("go1.26.8", needs[0]) >= 0 || needs[1] != "go1.27.2" {
		t.Fatalf("goModNeeds = %v, %v; want go1.27 (newer than go1.26.8) and go1.27.2", needs, err)
	}
	if needs, err := goModNeeds("module x\n\ngo 1.26\n"); err != nil || version.Compare("go1.26.8", needs[0]) < 0 {
		t.Fatalf("goModNeeds = %v, %v; want go1.26, satisfied by go1.26.8", needs, err)
	}
	if _, err := goModNeeds("module x\n"); err == nil {
		t.Fatal("a go.mod without a go line must be refused")
	}
}

// TestDockerGolangVersion: a floating tag is refused, an exact one is read.
func TestDockerGolangVersion(t *testing.T) {
	for from, want := range map[string]string{
		"FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build":     "go1.26.8",
		"FROM golang:1.27.1@sha256:" + strings.Repeat("a", 64) + " AS build": "go1.27.1",
		"FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build":       "",
		"FROM golang:latest AS build":                                        "",
	} {
		path := t.TempDir() + "/Dockerfile"
		if err := os.WriteFile(path, []byte(from+"\nFROM ipfs/ipfs-cluster:v1.1.6\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := dockerGolangVersion(path)
		if want == "" && err == nil {
			t.Errorf("%s: accepted as %s, want refused (not an exact release)", from, got)
		}
		if want != "" && (err != nil || got != want) {
			t.Errorf("%s: got %q, %v; want %s", from, got, err, want)
		}
	}
}
