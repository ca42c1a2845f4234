// Package monitoringspec is what the monitoring of a cluster agrees on
// without the CDK: the metrics collector in each node's task (image, its
// configuration), the namespace and dimensions of the cluster's own metrics,
// the alarms' names and thresholds, and the rule for the alarm e-mail.
package monitoringspec

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// The collector is the AWS Distro for OpenTelemetry collector: it scrapes
// the cluster's Prometheus endpoint and writes CloudWatch metrics as
// embedded metric format (EMF) logs. Its image (the pinned upstream release)
// is docker/otel-collector, built into the account's private ECR.

// The collector's user: upstream's aoc, which the image declares; not the
// peers' 1000:100, so that it owns nothing of theirs.
const (
	CollectorUID = 4317
	CollectorGID = 4317
)

// CollectorUser is the task definition's user for the collector.
var CollectorUser = fmt.Sprintf("%d:%d", CollectorUID, CollectorGID)

// CollectorHealthPort is where the collector's health_check extension
// answers, on the task's loopback: the default of the image's /healthcheck
// (which asks http://127.0.0.1:<port>/), clear of every peer port.
const CollectorHealthPort = 13133

// CollectorHealthCheck is the container health check's command (the image
// is FROM scratch: no shell, so an exec form).
var CollectorHealthCheck = []string{"/healthcheck", fmt.Sprintf("--port=%d", CollectorHealthPort)}

// CollectorConfigVariable carries the collector's whole configuration (ADOT
// reads it instead of --config when set).
const CollectorConfigVariable = "AOT_CONFIG_CONTENT"

// Namespace and dimensions of the cluster's own metrics in CloudWatch.
// Every metric has the dimensions stack and peer; MetricPins also has stack
// and region (RegionDimensionMetrics): the pinset as the peers of one region
// hold it, whichever peers run, for the comparison across regions
// (OtherRegionPinsetLag).
const (
	Namespace       = "IpfsCluster"
	DimensionStack  = "stack"
	DimensionPeer   = "peer"
	DimensionRegion = "region"
	// DimensionOtherRegion tells apart the metrics a region publishes about
	// another region (OtherRegionPinsetLag, OtherRegionReporting).
	DimensionOtherRegion = "otherRegion"
)

// The cluster's metrics that reach CloudWatch (ipfs-cluster v1.1.6,
// observations/metrics.go, exported by OpenCensus under the namespace
// "ipfscluster"), and the scrape's own "up". v1.1.6 exports no count of
// peers: PeersUp (every peer's "up") and the pinset agreement stand in.
const (
	MetricPins         = "ipfscluster_pins"            // pins in the shared pinset, as this peer's state holds it
	MetricPinQueued    = "ipfscluster_pins_pin_queued" // pins waiting for this peer's kubo
	MetricPinning      = "ipfscluster_pins_pinning"    // pins this peer's kubo is fetching
	MetricPinError     = "ipfscluster_pins_pin_error"  // pins in pin_error on this peer
	MetricIpfsPins     = "ipfscluster_pins_ipfs_pins"  // pins kubo reports
	MetricInformerDisk = "ipfscluster_informer_disk"   // free space the allocator sees
	MetricUp           = "up"                          // 1 when the collector could scrape the peer
)

// ClusterMetrics are the scraped metrics kept (everything else, the Go
// runtime's and libp2p's series, is dropped in the collector and costs
// nothing).
var ClusterMetrics = []string{MetricPins, MetricPinQueued, MetricPinning, MetricPinError, MetricIpfsPins, MetricInformerDisk}

// RegionDimensionMetrics are the scraped metrics CloudWatch also keeps per
// region (dimensions stack and region).
var RegionDimensionMetrics = []string{MetricPins}

// What a region publishes about the other region of a cluster in two
// regions (NewRegionLag's function, every RegionLagScheduleMinutes).
const (
	// MetricOtherRegionPinsetLag is how many pins this region's pinset held
	// beyond the other region's, over the last RegionLagWindowMinutes both
	// reported: the least this region held minus the most the other held.
	MetricOtherRegionPinsetLag = "OtherRegionPinsetLag"
	// MetricOtherRegionReporting is 1 when the other region's peers
	// reported their pinset within RegionReportingLookbackMinutes, else 0.
	MetricOtherRegionReporting = "OtherRegionReporting"
)

// ScrapeInterval matches CloudWatch's one-minute resolution.
const ScrapeInterval = time.Minute

// CollectorConfig is the collector's configuration for one peer: scrape the
// cluster on the task's loopback, keep ClusterMetrics, write them as EMF to
// logGroup in region with the dimensions stack and peer, and
// RegionDimensionMetrics also with stack and region (the peer's region, the
// value of the region dimension). It contains no "$": the collector expands
// ${...} in its configuration.
func CollectorConfig(stack, peer, region, logGroup string) string {
	q := strconv.Quote
	return strings.Join([]string{
		// What the image's /healthcheck asks: 200 once the pipeline runs.
		"extensions:",
		"  health_check:",
		fmt.Sprintf("    endpoint: %s", q(fmt.Sprintf("127.0.0.1:%d", CollectorHealthPort))),
		"receivers:",
		"  prometheus:",
		"    config:",
		"      scrape_configs:",
		"        - job_name: ipfs-cluster",
		"          scrape_interval: " + ScrapeInterval.String(),
		"          metrics_path: " + nodespec.MetricsPath,
		"          static_configs:",
		fmt.Sprintf("            - targets: [%s]", q(fmt.Sprintf("127.0.0.1:%d", nodespec.MetricsPort))),
		fmt.Sprintf("              labels: {%s: %s, %s: %s, %s: %s}", DimensionStack, q(stack), DimensionPeer, q(peer), DimensionRegion, q(region)),
		"          metric_relabel_configs:",
		"            - source_labels: [__name__]",
		"              regex: " + q(strings.Join(ClusterMetrics, "|")),
		"              action: keep",
		"processors:",
		"  batch:",
		"    timeout: 30s",
		"exporters:",
		"  awsemf:",
		"    namespace: " + Namespace,
		"    region: " + q(region),
		"    log_group_name: " + q(logGroup),
		"    log_stream_name: " + q(peer),
		"    dimension_rollup_option: NoDimensionRollup",
		"    metric_declarations:",
		fmt.Sprintf("      - dimensions: [[%s, %s]]", DimensionStack, DimensionPeer),
		"        metric_name_selectors: [\"^ipfscluster_\", \"^up\"]",
		// A metric that two declarations select gets both dimension sets
		// in one EMF record (awsemf's groupedMetricToCWMeasurementsWithFilters).
		// The whole name, and no "$" to end it: \b, as "_" continues a word.
		fmt.Sprintf("      - dimensions: [[%s, %s]]", DimensionStack, DimensionRegion),
		"        metric_name_selectors: [" + q("^("+strings.Join(RegionDimensionMetrics, "|")+`)\b`) + "]",
		"service:",
		"  extensions: [health_check]",
		// The collector's own metrics listen on :8888 by default: the
		// cluster's port in this task. Off.
		"  telemetry:",
		"    metrics:",
		"      level: none",
		"    logs:",
		"      level: warn",
		"  pipelines:",
		"    metrics:",
		"      receivers: [prometheus]",
		"      processors: [batch]",
		"      exporters: [awsemf]",
		"",
	}, "\n")
}

// AlarmName is "<stack>-<subject>-<what>", e.g.
// IpfsCluster-node1-tasks-below-desired: what broke, where.
func AlarmName(stack, subject, what string) string {
	return stack + "-" + subject + "-" + what
}

// AlarmNamePrefix begins the name of every alarm of subject, or of every
// alarm of the stack when subject is empty (for aws cloudwatch
// describe-alarms --alarm-name-prefix).
func AlarmNamePrefix(stack, subject string) string {
	if subject == "" {
		return stack + "-"
	}
	return AlarmName(stack, subject, "")
}

// CloudWatch's dashboard limits the dashboard is built within.
const (
	// AlarmWidgetMaxAlarms: "You can include up to 100 alarms in one alarm
	// status widget" (CloudWatch user guide, "Add or remove an alarm widget
	// from a CloudWatch dashboard").
	AlarmWidgetMaxAlarms = 100
	// SearchMaxQueryLength: "The maximum search expression query size is
	// 1024 characters" (CloudWatch user guide, "CloudWatch search
	// expression syntax").
	SearchMaxQueryLength = 1024
	// MaxFileSystemIDLength: fs- and up to 40 hex digits (the EFS API's
	// FileSystemId pattern; today's IDs have 17). The dashboard's searches
	// list the file systems' IDs, unknown until deployment, so they are
	// cut for the longest.
	MaxFileSystemIDLength = 3 + 40
)

// Log lines that page (metric filters on the cluster containers' logs).
const (
	// StallLogLine is the known upstream stall (README "Known issues"):
	// go-ds-crdt cannot fetch a delta and retries every two minutes.
	StallLogLine = "error processing new head"
	// AllocationLogLine: the REST API's error for a pin no peer set can
	// take ("sending error response: 500: not enough peers to allocate CID").
	AllocationLogLine = "not enough peers to allocate"
)

// DefaultRunbookURL links an alarm to its runbook (docs/runbooks.md) unless
// the deployment names its own copy (a fork's). Alarm descriptions carry
// it, so the e-mail an operator gets says what to do.
const DefaultRunbookURL = "https://github.com/ipfs-cluster-aws/ipfs-cluster-aws/blob/main/docs/runbooks.md"

// MaxRunbookURLLength leaves room in an alarm description (at most 1024
// characters) for the reason and the section anchor.
const MaxRunbookURLLength = 300

// ValidateRunbookURL checks the runbooks page the alarms link: empty (the
// default) or an https URL without query or fragment (the alarms append
// #<section>).
func ValidateRunbookURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, " \t\n") || len(raw) > MaxRunbookURLLength {
		return fmt.Errorf("%q is not a runbooks page URL; allowed: empty (%s) or an https:// URL of at most %d characters without query or #fragment (each alarm appends its section's anchor)", raw, DefaultRunbookURL, MaxRunbookURLLength)
	}
	return nil
}

// Runbook anchors.
const (
	RunbookPeerDown           = "#a-peer-is-down"
	RunbookPinStuck           = "#a-pin-is-stuck-or-in-error"
	RunbookStall              = "#the-known-stall"
	RunbookScaleOut           = "#scale-out"
	RunbookStorage            = "#a-file-system-is-full-or-slow"
	RunbookEdge               = "#the-edge-serves-errors"
	RunbookRestore            = "#restore-a-node-from-a-backup"
	RunbookZoneLoss           = "#lose-a-whole-zone"
	RunbookLoadBalance        = "#the-load-balancer-reports-unhealthy-targets"
	RunbookRegionLoss         = "#lose-and-regain-a-region"
	RunbookRegionBehind       = "#the-other-region-is-behind"
	RunbookRegionNotReporting = "#the-other-region-is-not-reporting"
)

// Thresholds. Each says why; README "Alarms" tabulates them.
const (
	// TasksBelowDesiredMinutes: a rolling update stops a peer's only task
	// before the next starts (min 0 %), about 3 minutes with the image
	// pull; ten minutes below desired is no update but a peer that cannot
	// start.
	TasksBelowDesiredMinutes = 10
	// StoppedTasksPerHour: an update stops each peer's task once, a Fargate
	// host retirement once more; three stops in an hour is a crash loop.
	StoppedTasksPerHour = 3
	// UnhealthyTargetMinutes: health checks every 15 s, unhealthy after 3;
	// five minutes of an unhealthy target outlasts a task replacement's
	// deregistration.
	UnhealthyTargetMinutes = 5
	// ErrorRatePercent over ErrorRateMinimumRequests requests per five
	// minutes, three periods running: a gateway answers 504 for content
	// nobody provides, which a few viewers cause; 5 % sustained for a
	// quarter hour is the service failing.
	ErrorRatePercent         = 5
	ErrorRateMinimumRequests = 20
	ErrorRatePeriods         = 3
	// PercentIOLimit: at 100 % EFS throttles I/O and kubo's latency grows
	// without bound; 90 % for fifteen minutes leaves time to act.
	PercentIOLimit        = 90
	PercentIOLimitPeriods = 3
	// BurstCreditHours: with bursting throughput an empty credit balance
	// drops the file system to its baseline (50 KiB/s per GiB stored);
	// alarm while one hour of bursting at 100 MiB/s is left.
	BurstCreditHours         = 1
	BurstCreditRateMiBPerSec = 100
	// StoragePercent of kubo's StorageMax: the cluster's disk informer
	// reports free space as StorageMax minus the repo, so a peer near it
	// stops receiving allocations and kubo's GC (watermark 90 %) starts
	// running: 80 % gives time to raise kuboStorageMax or scale out.
	StoragePercent = 80
	// PinErrorMinutes: a pin in error is retried by the cluster's recover
	// loop; still in error after 15 minutes it needs an operator.
	PinErrorMinutes = 15
	// PinQueueThreshold pins queued for PinQueueMinutes: the queue drains
	// at concurrent_pins (10) at a time; hundreds for half an hour means
	// kubo cannot fetch (peers unreachable, content gone, I/O limit).
	PinQueueThreshold = 100
	PinQueueMinutes   = 30
	// PinsetBehindMinutes: every peer holds the whole CRDT pinset and a new
	// pin reaches all within seconds; a peer whose pin count stays below
	// the others' for half an hour is partitioned or stalled.
	PinsetBehindMinutes = 30
	// RegionLagScheduleMinutes: how often a region compares its pinset
	// with the other region's (one GetMetricData per region, one
	// PutMetricData: within CloudWatch's free tier of API requests).
	RegionLagScheduleMinutes = 5
	// RegionLagWindowMinutes: the comparison takes the least pins this
	// region held and the most the other held over the last five minutes
	// both reported. The CRDT brings a pin to every peer in seconds, but
	// each region's peers are scraped once a minute at their own moment:
	// within a window longer than that skew, a region in step has held at
	// some minute at least what the other held at its first, whether pins
	// are being added or removed, so an import running for hours does not
	// look like lag.
	RegionLagWindowMinutes = 5
	// RegionLagPeriods of RegionLagScheduleMinutes with a lag of at least
	// one pin: half an hour, as PinsetBehindMinutes within a region. A
	// region whose every peer restarts reports a pinset counted from zero
	// until its state sync (five minutes) lists the whole pinset, and a
	// peering blip is caught up within minutes; half an hour behind is a
	// partition or a stalled region.
	RegionLagPeriods = 6
	// RegionReportingLookbackMinutes: the other region reports if any of
	// its peers' pinset reached CloudWatch in the last ten minutes (a scrape
	// a minute, and EMF takes a few minutes to become a metric).
	RegionReportingLookbackMinutes = 10
	// RegionNotReportingPeriods of RegionLagScheduleMinutes without the
	// other region's pinset: a quarter hour, so one failed cross-region
	// read does not page.
	RegionNotReportingPeriods = 3
	// PeersUpMinutes: fewer peers reporting than nodeCount for five
	// minutes (a scrape a minute) is a peer down or cut off.
	PeersUpMinutes = 5
	// StallLogCount lines in StallLogMinutes: the stall repeats its line
	// every two minutes; two in ten minutes is the stall, not a blip.
	StallLogCount   = 2
	StallLogMinutes = 10
	// AllocationErrorCount in AllocationErrorMinutes: one failed add can be
	// a just-restarted peer (it refuses adds until the others' metrics
	// reach it, 15 s); three in 15 minutes is missing peers or space.
	AllocationErrorCount   = 3
	AllocationErrorMinutes = 15
	// EdgeFunctionErrors per five minutes, three periods: the
	// authenticator fails closed (503) when it cannot read its secret.
	EdgeFunctionErrors  = 5
	EdgeFunctionPeriods = 3
)

var emailPattern = regexp.MustCompile(`^[A-Za-z0-9.!#%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)

// ValidateEmail checks the alarm e-mail address: empty (no subscription)
// or one address.
func ValidateEmail(address string) error {
	if address == "" {
		return nil
	}
	if len(address) > 254 || !emailPattern.MatchString(address) {
		return fmt.Errorf("%q is not an e-mail address; allowed: empty (no subscription) or one address such as ops@example.com (SNS sends it a confirmation link)", address)
	}
	return nil
}
