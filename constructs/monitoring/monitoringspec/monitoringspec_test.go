package monitoringspec

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/dockerfile"
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
		`labels: {stack: "IpfsCluster", peer: "node2", region: "eu-west-1"}`,
		"metrics_path: /metrics",
		`regex: "` + strings.Join(ClusterMetrics, "|") + `"`,
		"namespace: IpfsCluster",
		`region: "eu-west-1"`,
		`log_group_name: "metrics-log"`,
		`log_stream_name: "node2"`,
		"dimensions: [[stack, peer]]",
		"dimensions: [[stack, region]]",
		`metric_name_selectors: ["^(ipfscluster_pins)\\b"]`,
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

// TestCollectorRegionDimension: the exporter gives a metric the dimension
// sets of every declaration whose selectors match its name. The pinset size
// gets stack+region besides stack+peer, every other metric stack+peer only,
// and every scraped series carries the labels the sets name.
func TestCollectorRegionDimension(t *testing.T) {
	var cfg struct {
		Receivers struct {
			Prometheus struct {
				Config struct {
					ScrapeConfigs []struct {
						StaticConfigs []struct {
							Labels map[string]string `yaml:"labels"`
						} `yaml:"static_configs"`
					} `yaml:"scrape_configs"`
				} `yaml:"config"`
			} `yaml:"prometheus"`
		} `yaml:"receivers"`
		Exporters struct {
			AwsEmf struct {
				Declarations []struct {
					Dimensions [][]string `yaml:"dimensions"`
					Selectors  []string   `yaml:"metric_name_selectors"`
				} `yaml:"metric_declarations"`
			} `yaml:"awsemf"`
		} `yaml:"exporters"`
	}
	if err := yaml.Unmarshal([]byte(CollectorConfig("IpfsCluster", "node4", "us-east-2", "metrics-log")), &cfg); err != nil {
		t.Fatal(err)
	}
	labels := cfg.Receivers.Prometheus.Config.ScrapeConfigs[0].StaticConfigs[0].Labels
	if want := map[string]string{DimensionStack: "IpfsCluster", DimensionPeer: "node4", DimensionRegion: "us-east-2"}; !maps.Equal(labels, want) {
		t.Errorf("labels %v, want %v", labels, want)
	}
	for _, name := range append(slices.Clone(ClusterMetrics), MetricUp) {
		var got [][]string
		for _, d := range cfg.Exporters.AwsEmf.Declarations {
			if slices.ContainsFunc(d.Selectors, func(s string) bool { return regexp.MustCompile(s).MatchString(name) }) {
				got = append(got, d.Dimensions...)
			}
		}
		want := [][]string{{DimensionStack, DimensionPeer}}
		if slices.Contains(RegionDimensionMetrics, name) {
			want = append(want, []string{DimensionStack, DimensionRegion})
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: dimension sets %v, want %v", name, got, want)
		}
	}
	if !slices.Contains(ClusterMetrics, MetricPins) || !slices.Equal(RegionDimensionMetrics, []string{MetricPins}) {
		t.Errorf("the per-region pinset is %s, which the collector must keep (%v)", MetricPins, ClusterMetrics)
	}
}

// TestCollectorHealthCheckExtension: the image's /healthcheck asks
// 127.0.0.1:<port>/; the configuration must run the health_check extension
// there, on loopback, on a port no peer uses.
func TestCollectorHealthCheckExtension(t *testing.T) {
	var cfg struct {
		Extensions map[string]struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"extensions"`
		Service struct {
			Extensions []string `yaml:"extensions"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal([]byte(CollectorConfig("IpfsCluster", "node0", "eu-west-1", "metrics-log")), &cfg); err != nil {
		t.Fatalf("the collector configuration is not YAML: %v", err)
	}
	want := fmt.Sprintf("127.0.0.1:%d", CollectorHealthPort)
	if got := cfg.Extensions["health_check"].Endpoint; got != want {
		t.Errorf("health_check endpoint %q, the image's /healthcheck asks %q", got, want)
	}
	if !slices.Equal(cfg.Service.Extensions, []string{"health_check"}) {
		t.Errorf("service.extensions = %v: a configured extension runs only when the service lists it", cfg.Service.Extensions)
	}
	if !slices.Equal(CollectorHealthCheck, []string{"/healthcheck", fmt.Sprintf("--port=%d", CollectorHealthPort)}) {
		t.Errorf("health check command %v does not ask the extension's port", CollectorHealthCheck)
	}
	for _, port := range []int{nodespec.SwarmPort, nodespec.KuboRPCPort, nodespec.GatewayPort, nodespec.RestAPIPort, nodespec.IPFSProxyPort, nodespec.ClusterSwarmPort, nodespec.PinSvcAPIPort, nodespec.MetricsPort} {
		if port == CollectorHealthPort {
			t.Errorf("health port %d is a peer's port in the same task", port)
		}
	}
}

// TestCollectorImage: docker/otel-collector is the upstream collector pinned
// to a release, run as CollectorUser, with no volume (the task mounts none:
// the collector writes nothing).
func TestCollectorImage(t *testing.T) {
	d, err := dockerfile.Read("../../../docker/otel-collector/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	const upstream = "public.ecr.aws/aws-observability/aws-otel-collector"
	if d.FinalFrom != upstream {
		t.Errorf("FROM %s, want the upstream collector %s", d.FinalFrom, upstream)
	}
	if tag := d.From[upstream]; !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(tag) {
		t.Errorf("FROM %s:%s is not pinned to a release", upstream, tag)
	}
	if d.User != CollectorUser {
		t.Errorf("USER %q, the task definition runs the collector as %q", d.User, CollectorUser)
	}
	if len(d.Volumes) > 0 {
		t.Errorf("VOLUME %v: the collector writes nothing and the task mounts nothing for it", d.Volumes)
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
	for _, a := range []string{RunbookPeerDown, RunbookPinStuck, RunbookStall, RunbookScaleOut, RunbookStorage, RunbookEdge, RunbookRestore, RunbookZoneLoss, RunbookLoadBalance, RunbookRegionLoss, RunbookRegionBehind, RunbookRegionNotReporting, RunbookPSARefused, RunbookPSATokens} {
		if !anchors[a] {
			t.Errorf("docs/runbooks.md has no section for %s (have %v)", a, anchors)
		}
	}
}

// A prefix lists a node's alarms and no other node's: node1's prefix must
// not match node12's alarms.
func TestAlarmNamePrefix(t *testing.T) {
	node1 := AlarmNamePrefix("IpfsCluster", "node1")
	if !strings.HasPrefix(AlarmName("IpfsCluster", "node1", "storage-near-storagemax"), node1) {
		t.Errorf("%q does not begin node1's alarm names", node1)
	}
	if strings.HasPrefix(AlarmName("IpfsCluster", "node12", "storage-near-storagemax"), node1) {
		t.Errorf("%q matches node12's alarms too", node1)
	}
	stack := AlarmNamePrefix("IpfsCluster", "")
	if !strings.HasPrefix(AlarmName("IpfsCluster", "alb-gateway", "unhealthy-targets"), stack) || strings.HasPrefix(AlarmName("IpfsClusterTest", "node0", "not-reporting"), stack) {
		t.Errorf("%q: want every alarm of the stack and none of IpfsClusterTest's", stack)
	}
}
