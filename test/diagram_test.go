package test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/diagram"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/npmcache"
)

// docs/architecture.md is the diagram of what the default configuration
// synthesizes (internal/diagram): it fails here once the code changes
// what the diagram shows.
func TestArchitectureDiagramIsCurrent(t *testing.T) {
	want, err := diagram.Markdown(defaults.outDir)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(repoRoot, "docs", "architecture.md"))
	require.NoError(t, err)
	if string(got) != want {
		t.Errorf("docs/architecture.md no longer matches the synthesized app: regenerate it with `%s` and commit it.\n%s",
			diagram.Command, firstDifference(string(got), want))
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	if _, ok := diagram.ReplaceInReadme(string(readme), ""); !ok {
		t.Errorf("README.md lacks the diagram markers %q and %q", diagram.ReadmeBegin, diagram.ReadmeEnd)
	} else if !strings.Contains(string(readme), diagram.ReadmeBegin+"\n"+diagram.MermaidBlock(want)+diagram.ReadmeEnd) {
		t.Errorf("README.md's diagram no longer matches the synthesized app: regenerate it with `%s` and commit it", diagram.Command)
	}
	// What a reader must find in it: every stack, a box per node, the
	// main flows.
	for id := range defaults.stacks {
		assert.Regexp(t, `(?m)^  subgraph s[0-9]+\["`+regexp.QuoteMeta(id)+` · `, want, "stack %s has its subgraph", id)
	}
	// A node's box may sit in a nested stack (sN) of the cluster stack (s1).
	for i := range defaults.config.NodeCount {
		assert.Regexp(t, fmt.Sprintf(`s[0-9]+_Node%d\[\["node%d<br/>ECS service \+ EFS file system<br/>%s"\]\]`, i, i, defaults.config.ZoneOf(i)), want)
		assert.Regexp(t, fmt.Sprintf("s1_LoadBalancer_Alb --> s[0-9]+_Node%d\n", i), want)
		assert.Regexp(t, fmt.Sprintf("s1_Backup_Plan --> s[0-9]+_Node%d\n", i), want)
	}
	for _, flow := range []string{
		"viewers --> s1_Edge_Gateway\n", "s1_Edge_Gateway --> s1_Edge_Gateway_Origin1_VpcOrigin\n",
		"s1_Edge_Gateway_Origin1_VpcOrigin --> s1_LoadBalancer_Alb\n", "s1_Edge_Api -->|cross-region| s0_EdgeBasicAuth\n",
		"s0_EdgeBasicAuth -->|replica in us-east-1| s1_Secrets_RestApiCredentials\n",
		"s1_Monitoring_alarms --> s1_Monitoring_AlarmTopic\n", "s1_Backup_Plan --> s1_Backup_Vault\n",
	} {
		assert.Contains(t, want, flow)
	}
}

// The diagram follows the configuration: with six nodes it has six node
// boxes, so a code change that changes the assembly changes the page.
func TestArchitectureDiagramFollowsTheCode(t *testing.T) {
	six, err := diagram.Markdown(privateSwarm.outDir)
	require.NoError(t, err)
	committed, err := os.ReadFile(filepath.Join(repoRoot, "docs", "architecture.md"))
	require.NoError(t, err)
	assert.NotEqual(t, string(committed), six)
	for i := range privateSwarm.config.NodeCount {
		assert.Regexp(t, fmt.Sprintf("s1_LoadBalancer_Alb --> s[0-9]+_Node%d\n", i), six)
	}
	assert.NotRegexp(t, `s[0-9]+_Node6\b`, six)
}

// Mermaid versions the diagram is parsed with: what GitHub renders with
// at the time of writing (Mermaid 11), and the DOM Mermaid's label
// sanitizer needs outside a browser.
var mermaidPackages = []string{"mermaid@11.17.2", "jsdom@29.1.1"}

// The committed diagram (docs/architecture.md and README's copy) parses
// with Mermaid's own parser, as Git hosting parses it before rendering, and
// so do the diagrams of the larger configurations: six nodes, every
// feature at 30 nodes (nested stacks), two regions.
func TestArchitectureDiagramParsesInMermaid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := npmcache.Install(ctx, "mermaid-11.17.2", mermaidPackages, nil)
	if errors.Is(err, npmcache.ErrNoNpm) {
		t.Skip("npm is not installed: Mermaid's parser cannot run")
	}
	require.NoError(t, err)
	files := []string{filepath.Join(repoRoot, "docs", "architecture.md"), filepath.Join(repoRoot, "README.md")}
	for name, s := range map[string]*synthesized{"six-nodes": privateSwarm, "all-features": allFeatures, "two-regions": twoRegions} {
		page, err := diagram.Markdown(s.outDir)
		require.NoError(t, err, name)
		file := filepath.Join(t.TempDir(), name+".md")
		require.NoError(t, os.WriteFile(file, []byte(page), 0o644))
		files = append(files, file)
	}
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(repoRoot, "test", "mermaid", "parse.mjs")}, files...)...)
	cmd.Env = append(os.Environ(), "MERMAID_MODULES="+filepath.Join(dir, "node_modules"))
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "a diagram Mermaid cannot parse")
	assert.Equal(t, len(files), strings.Count(string(out), ": flowchart-v2, "), "one flowchart per file")
}

// firstDifference shows where two texts part.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: committed %q, generated %q", i+1, x, y)
		}
	}
	return ""
}
