package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
)

// Issue 14, item 8: cdk.json sets the feature flags of the aws-cdk-lib in
// use, and docs/feature-flags.md gives each one's value and, where the
// value matters, why. This test ties the three together.

// featureFlagsDoc is where each flag's decision is recorded.
const featureFlagsDoc = "docs/feature-flags.md"

// featureFlag is one entry of the flag report aws-cdk-lib writes into the
// cloud assembly (what `cdk flags` shows).
type featureFlag struct {
	RecommendedValue        any `json:"recommendedValue"`
	UnconfiguredBehavesLike struct {
		V2 any `json:"v2"`
	} `json:"unconfiguredBehavesLike"`
}

// unsetValue is the flag's behaviour when cdk.json leaves it out.
func (f featureFlag) unsetValue() any {
	if f.UnconfiguredBehavesLike.V2 == nil {
		return false
	}
	return f.UnconfiguredBehavesLike.V2
}

func readFeatureFlagReport(t *testing.T, dir string) map[string]featureFlag {
	t.Helper()
	var m struct {
		Artifacts map[string]struct {
			Type       string `json:"type"`
			Properties struct {
				Flags map[string]featureFlag `json:"flags"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	require.NoError(t, readJSONFile(filepath.Join(dir, "manifest.json"), &m))
	for _, a := range m.Artifacts {
		if a.Type == "cdk:feature-flag-report" {
			return a.Properties.Flags
		}
	}
	t.Fatalf("no feature flag report in %s", dir)
	return nil
}

// docFlagRow is a table row of the flags document: | `flag` | `value` | ...
var docFlagRow = regexp.MustCompile("^\\| `(@aws-cdk[^`]*)` \\| `([^`]+)` \\|(.*)$")

// flagDecisions is what the flags document says.
type flagDecisions struct {
	values map[string]any
	// reasons is each row's reason column, empty where its table has none.
	reasons map[string]string
	// prose is the document without its tables.
	prose string
}

func readFlagDecisions(t *testing.T) flagDecisions {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, featureFlagsDoc))
	require.NoError(t, err)
	d := flagDecisions{values: map[string]any{}, reasons: map[string]string{}}
	values := d.values
	var prose []string
	for _, line := range strings.Split(string(raw), "\n") {
		m := docFlagRow.FindStringSubmatch(line)
		if m == nil {
			if !strings.HasPrefix(line, "|") {
				prose = append(prose, line)
			}
			continue
		}
		_, dup := values[m[1]]
		require.False(t, dup, "%s lists %s twice", featureFlagsDoc, m[1])
		var v any
		require.NoError(t, json.Unmarshal([]byte(m[2]), &v), "%s: value of %s", featureFlagsDoc, m[1])
		values[m[1]] = v
		d.reasons[m[1]] = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[3]), "|"))
	}
	d.prose = strings.Join(prose, "\n")
	return d
}

func TestFeatureFlags(t *testing.T) {
	ctx, err := config.LoadCdkJSONContext(filepath.Join(repoRoot, "cdk.json"))
	require.NoError(t, err)
	set := map[string]any{}
	for k, v := range ctx {
		if strings.HasPrefix(k, "@aws-cdk") {
			set[k] = v
		}
	}
	report := readFeatureFlagReport(t, defaults.outDir)
	doc := readFlagDecisions(t)

	for k, v := range set {
		if d, ok := doc.values[k]; !ok {
			t.Errorf("cdk.json sets %s, %s does not list it", k, featureFlagsDoc)
		} else if !jsonEqual(v, d) {
			t.Errorf("%s is %v in cdk.json, %v in %s", k, v, d, featureFlagsDoc)
		}
	}
	for k := range doc.values {
		if _, ok := set[k]; !ok {
			t.Errorf("%s lists %s, cdk.json does not set it", featureFlagsDoc, k)
		}
	}
	var unknown, unconfigured []string
	for k := range set {
		if _, ok := report[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	for k, f := range report {
		if _, ok := set[k]; !ok && !jsonEqual(f.unsetValue(), f.RecommendedValue) {
			unconfigured = append(unconfigured, k)
		}
	}
	sort.Strings(unknown)
	sort.Strings(unconfigured)
	assert.Empty(t, unknown, "cdk.json sets flags this aws-cdk-lib does not know (misspelt, or removed by an upgrade)")
	assert.Empty(t, unconfigured, "flags that behave unlike their recommendation when unset: decide each in cdk.json "+
		"and %s (the CDK CLI reports them as not configured)", featureFlagsDoc)
	for k, v := range set {
		f, ok := report[k]
		if ok && !jsonEqual(v, f.RecommendedValue) && doc.reasons[k] == "" && !strings.Contains(doc.prose, k) {
			t.Errorf("%s is %v against the recommended %v: %s must say why", k, v, f.RecommendedValue, featureFlagsDoc)
		}
	}
}

func jsonEqual(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
