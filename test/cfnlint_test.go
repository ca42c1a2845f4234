package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Issue 14, item 8: cfn-lint, a linter that owes nothing to the CDK, checks
// every template the app synthesizes. The rules it must not apply are in
// the repository's .cfnlintrc, each with its reason.

// cfnLintConfig is the cfn-lint configuration, relative to the repository
// root (the linter's working directory).
const cfnLintConfig = ".cfnlintrc"

// lintedAssembly is one synthesized cloud assembly cfn-lint checks.
type lintedAssembly struct {
	name string
	// dir returns the assembly directory, synthesizing it if need be.
	dir func(t *testing.T) string
}

// lintedAssemblies are the assemblies cfn-lint checks: the defaults, every
// optional feature, and the pipelines with their stage assemblies.
var lintedAssemblies = []lintedAssembly{
	{"default", func(*testing.T) string { return defaults.outDir }},
	{"all features", func(*testing.T) string { return allFeatures.outDir }},
	{"two regions", func(*testing.T) string { return twoRegions.outDir }},
	{"two regions, public swarm", func(*testing.T) string { return twoRegionsPublic.outDir }},
	{"pipelines", func(t *testing.T) string { return delivery(t).outDir }},
}

// cfnLintFinding is one entry of `cfn-lint --format json`.
type cfnLintFinding struct {
	Filename string `json:"Filename"`
	Level    string `json:"Level"`
	Message  string `json:"Message"`
	Location struct {
		Path []any `json:"Path"`
	} `json:"Location"`
	Rule struct {
		ID string `json:"Id"`
	} `json:"Rule"`
}

func TestCfnLint(t *testing.T) {
	cfnLint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not on PATH, so the templates are not linted: install cfn-lint 1.51.0 (pip install cfn-lint==1.51.0) to run this test")
	}
	for _, a := range lintedAssemblies {
		t.Run(a.name, func(t *testing.T) {
			dir := a.dir(t)
			files, err := assemblyTemplates(dir)
			require.NoError(t, err)
			require.NotEmpty(t, files, "no templates in %s", dir)
			regions, err := assemblyRegions(dir)
			require.NoError(t, err)
			findings := runCfnLint(t, cfnLint, regions, files)
			for _, f := range findings {
				file, _ := filepath.Rel(dir, f.Filename)
				t.Errorf("%s %s %s at %v: %s", file, f.Level, f.Rule.ID, f.Location.Path, f.Message)
			}
			t.Logf("%d templates, regions %v, %d findings", len(files), regions, len(findings))
		})
	}
}

// runCfnLint lints files in one cfn-lint process, each template against
// every region of regions, and returns what it found.
func runCfnLint(t *testing.T, cfnLint string, regions, files []string) []cfnLintFinding {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	args := []string{"--config-file", filepath.Join(root, cfnLintConfig), "--format", "json"}
	if len(regions) > 0 {
		args = append(append(args, "--regions"), regions...)
	}
	args = append(append(args, "--"), files...)
	cmd := exec.Command(cfnLint, args...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	// cfn-lint exits non-zero when it finds something; only output that is
	// not its JSON report means it did not run.
	var findings []cfnLintFinding
	if err := json.Unmarshal(stdout.Bytes(), &findings); err != nil {
		t.Fatalf("cfn-lint did not report (%v, %v):\n%s\n%s", runErr, err, stdout.String(), stderr.String())
	}
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		t.Fatalf("cfn-lint: %v", runErr)
	}
	return findings
}

// assemblyTemplates lists every CloudFormation template of a cloud assembly
// directory: stack templates, nested stack templates (*.nested.template.json)
// and those of nested (stage) assemblies, not what asset directories hold.
func assemblyTemplates(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && strings.HasPrefix(d.Name(), "asset."):
			return filepath.SkipDir
		case !d.IsDir() && strings.HasSuffix(d.Name(), ".template.json"):
			files = append(files, path)
		}
		return nil
	})
	return files, err
}

// assemblyRegions lists the regions the stacks of an assembly deploy to.
func assemblyRegions(dir string) ([]string, error) {
	stacks, err := loadAssembly(dir)
	if err != nil {
		return nil, err
	}
	var regions []string
	for _, s := range stacks {
		if s.region != "unknown-region" && !slices.Contains(regions, s.region) {
			regions = append(regions, s.region)
		}
	}
	slices.Sort(regions)
	return regions, nil
}

// TestCfnLintConfigGivesReasons: every rule .cfnlintrc ignores has the
// comment that says why right above it.
func TestCfnLintConfigGivesReasons(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, cfnLintConfig))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	rule := regexp.MustCompile(`^\s*-\s*([EWI]\d{4})\s*$`)
	var ignored []string
	commented := false
	inIgnore := false
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"):
			commented = true
			continue
		case strings.HasPrefix(line, "ignore_checks:"):
			inIgnore = true
		case trimmed != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "-"):
			inIgnore = false
		case inIgnore && trimmed != "":
			m := rule.FindStringSubmatch(line)
			require.NotNil(t, m, "%s: %q is not one rule ID per line", cfnLintConfig, line)
			if !commented {
				t.Errorf("%s ignores %s without a comment above it saying why", cfnLintConfig, m[1])
			}
			ignored = append(ignored, m[1])
		}
		commented = false
	}
	require.NoError(t, scanner.Err())
	require.NotEmpty(t, ignored, "%s has no ignore_checks list", cfnLintConfig)
}
