package monitoringspec

import (
	"os"
	"strings"
	"testing"
)

func TestValidateEmail(t *testing.T) {
	for _, ok := range []string{"", "ops@example.com", "first.last+alarms@sub.example.org"} {
		if err := ValidateEmail(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"ops", "ops@", "@example.com", "ops@example", "a@b.com,c@d.com", "ops @example.com", "ops@exa_mple.com"} {
		err := ValidateEmail(bad)
		if err == nil || !strings.Contains(err.Error(), "allowed:") {
			t.Errorf("%q: want an error naming what is allowed, got %v", bad, err)
		}
	}
}

func TestCollectorConfig(t *testing.T) {
	cfg := CollectorConfig("IpfsCluster", "node2", "eu-west-1", "metrics-log")
	for _, want := range []string{
		`targets: ["127.0.0.1:8888"]`,
		`labels: {stack: "IpfsCluster", peer: "node2"}`,
		"metrics_path: /metrics",
		`regex: "` + strings.Join(ClusterMetrics, "|") + `"`,
		"namespace: IpfsCluster",
		`region: "eu-west-1"`,
		`log_group_name: "metrics-log"`,
		`log_stream_name: "node2"`,
		"dimensions: [[stack, peer]]",
		"level: none",
		"exporters: [awsemf]",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("collector configuration lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "$") {
		t.Errorf("the collector expands ${...}; the configuration must hold no $:\n%s", cfg)
	}
	if strings.Contains(cfg, "\t") {
		t.Error("YAML indents with spaces only")
	}
}

func TestCollectorImageIsPinned(t *testing.T) {
	tag := CollectorImage[strings.LastIndex(CollectorImage, ":")+1:]
	if tag == "latest" || !strings.HasPrefix(tag, "v") || strings.Count(tag, ".") != 2 {
		t.Errorf("collector image %s is not pinned to a release", CollectorImage)
	}
}

func TestRunbookAnchorsExist(t *testing.T) {
	raw, err := os.ReadFile("../../../docs/runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "## ") {
			// GitHub's anchors: lower case, spaces to '-', punctuation dropped.
			var b strings.Builder
			for _, r := range strings.ToLower(strings.TrimPrefix(line, "## ")) {
				switch {
				case r == ' ':
					b.WriteRune('-')
				case r == '-' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
					b.WriteRune(r)
				}
			}
			anchors["#"+b.String()] = true
		}
	}
	for _, a := range []string{RunbookPeerDown, RunbookPinStuck, RunbookStall, RunbookScaleOut, RunbookStorage, RunbookEdge, RunbookRestore, RunbookZoneLoss, RunbookLoadBalance} {
		if !anchors[a] {
			t.Errorf("docs/runbooks.md has no section for %s (have %v)", a, anchors)
		}
	}
}
