// Package nodespec is the contract of one IPFS cluster peer's containers,
// without the CDK: ports, paths, the image user, how long the images wait for
// a dead task's locks, how the task memory is split, the peers' names and
// addresses, and the environment both containers get. The node construct
// builds its task definition from it, the configuration validates with its
// rules, and the local cluster runs the same scripts with the same
// environment — one source for all three.
package nodespec

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// Ports of a peer (DESIGN.md §3). Only SwarmPort is ever open to the
// Internet; the loopback-only ones are never in a security group.
const (
	SwarmPort        = 4001 // kubo swarm, tcp + udp (QUIC)
	KuboRPCPort      = 5001 // kubo RPC: admin, task loopback only
	GatewayPort      = 8080 // kubo gateway, load balancer only
	RestAPIPort      = 9094 // cluster REST API, load balancer only
	IPFSProxyPort    = 9095 // cluster IPFS proxy, loopback only
	ClusterSwarmPort = 9096 // cluster swarm (tcp), this cluster's peers only
	PinSvcAPIPort    = 9097 // upstream's Pinning Service API, loopback only
	// PinningServicePort is this project's Pinning Service API layer
	// (issue 17), load balancer only.
	PinningServicePort = 9098
	MetricsPort        = 8888 // cluster Prometheus metrics (and pprof!), loopback only
)

// MetricsPath is where the cluster's metrics endpoint serves Prometheus
// text; the same listener serves /debug/pprof, so it never leaves the task.
const MetricsPath = "/metrics"

// Container paths of the two EFS access points (the images' defaults).
const (
	KuboRepoPath     = "/data/ipfs"
	ClusterStatePath = "/data/ipfs-cluster"
)

// The node's file system root holds one directory per access point; the
// maintenance task mounts the root itself, as root, to put a restored
// backup in place (docs/runbooks.md "Restore a node from a backup").
const (
	KuboRepoDirectory     = "/ipfs"
	ClusterStateDirectory = "/ipfs-cluster"
	MaintenanceMountPath  = "/mnt/efs"
	// RestoreCommand is docker/kubo/maintenance/restore-from-backup.sh in
	// the kubo image; it takes the root as its argument.
	RestoreCommand = "/usr/local/bin/restore-from-backup"
	// RestoreOwnerVariable tells it the containers' User.
	RestoreOwnerVariable = "RESTORE_OWNER"
)

// ScratchPath is the only writable path of either container besides its EFS
// mount: both root file systems are read-only.
const ScratchPath = "/tmp"

// The images' user: ipfs (uid 1000) in group users (gid 100), upstream's.
const (
	UID = 1000
	GID = 100
)

// User is the task definition's user for both containers.
var User = fmt.Sprintf("%d:%d", UID, GID)

// EmptyDirectoryCID is pinned by every kubo repo at init and restored by the
// init script, so the gateway serves it even with Gateway.NoFetch: a health
// path that proves the gateway reads its own datastore.
const EmptyDirectoryCID = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"

// EmptyDirectoryPath answers 200 on a healthy gateway (301 without the
// trailing slash).
const EmptyDirectoryPath = "/ipfs/" + EmptyDirectoryCID + "/"

// PinningServicePath is the base path of the Pinning Service API, the same
// at the edge (https://<api>/psa) and at the origin, so the edge forwards a
// request's path unchanged.
const PinningServicePath = "/psa"

// RestAPIHealthPath answers 204 without credentials on a live cluster peer.
const RestAPIHealthPath = "/health"

// Lock waits: a killed task's NFS lease on its repo lock outlives the task
// for a while; the images wait this long for it instead of failing at once
// (kubo: IPFS_WAIT_REPO_LOCK, cluster: IPFS_CLUSTER_WAIT_LOCK).
const (
	KuboRepoLockWait     = 3 * time.Minute
	ClusterStateLockWait = 3 * time.Minute
)

// StartupAllowance is what a container needs on top of its lock wait to come
// up on a large repo (kubo opens flatfs and pebble on EFS, the cluster loads
// its state and dials its peers).
const StartupAllowance = 60 * time.Second

// Health check start periods: a container correctly waiting for a dead
// task's lock must never be killed for it. ECS allows at most 300 s.
var (
	KuboStartPeriod    = KuboRepoLockWait + StartupAllowance
	ClusterStartPeriod = ClusterStateLockWait + StartupAllowance
)

// LoadBalancerGracePeriod is how long the service ignores load balancer
// health checks after a task starts: the cluster starts only once kubo is
// healthy, so both start periods can pass before the REST API answers.
var LoadBalancerGracePeriod = KuboStartPeriod + ClusterStartPeriod

// StopTimeout: Fargate allows at most 120 s between SIGTERM and SIGKILL;
// kubo and the cluster flush their datastores and the cluster writes its
// peerstore.
const StopTimeout = 120 * time.Second

// PinsetNoSyncVariable is ipfs-cluster's leveldb no_sync option: "true"
// skips the fsync go-ds-leveldb otherwise asks for on every write.
const PinsetNoSyncVariable = "CLUSTER_LEVELDB_LEVELDBOPTIONS_NOSYNC"

// PeerIndicesVariable lists the index of each CLUSTER_PEER_MULTIADDRS
// entry, for a cluster whose indices are not 0 to n-1 (a second region's
// peers start at SecondRegionFirstIndex); unset, the positions are the
// indices.
const PeerIndicesVariable = "CLUSTER_PEER_INDICES"

// Secret environment variables of the cluster container (ECS secrets, ARN
// references in the task definition) and the JSON keys of the REST API
// credentials secret they come from.
const (
	IdentitySeedVariable       = "CLUSTER_IDENTITY_SEED"
	RestAPIUsernameVariable    = "RESTAPI_USERNAME"
	RestAPIPasswordVariable    = "RESTAPI_PASSWORD"
	CredentialsUsernameJSONKey = "username"
	CredentialsPasswordJSONKey = "password"
)

// Defaults of Settings.
const (
	DefaultCPU                  = 1024
	DefaultMemoryMiB            = 4096
	MinMemoryMiB                = 2048
	DefaultReplicationFactorMin = 2
	DefaultReplicationFactorMax = 3
	DefaultKuboStorageMax       = "100GB"
)

// FargateMemoryMiB lists, per task CPU value, the task memory sizes Fargate
// accepts.
var FargateMemoryMiB = map[int][]int{
	256:   {512, 1024, 2048},
	512:   steps(1024, 4096, 1024),
	1024:  steps(2048, 8192, 1024),
	2048:  steps(4096, 16384, 1024),
	4096:  steps(8192, 30720, 1024),
	8192:  steps(16384, 61440, 4096),
	16384: steps(32768, 122880, 8192),
}

func steps(from, to, step int) []int {
	var out []int
	for v := from; v <= to; v += step {
		out = append(out, v)
	}
	return out
}

// Settings are the plain values of one peer: everything of it that reaches
// its containers. Zero values take the documented defaults (WithDefaults).
type Settings struct {
	// Index of this peer: one of PeerIndices(); its name is
	// PeerName(Index).
	Index int
	// PeerCount is the number of peers of the cluster (this one included),
	// both regions'.
	// Required.
	PeerCount int
	// Zone is the availability zone the peer runs in and Region its AWS
	// region: the peer's ipfs-cluster tags (ZoneTag, RegionTag), by which
	// the allocator spreads a pin's replicas (AllocateBy). Required: the
	// allocator skips a peer that lacks one of its tags.
	Zone, Region string
	// Namespace is the private DNS namespace the peers' names live in, e.g.
	// "ipfs-cluster.internal". Required.
	Namespace string
	// SecondRegion, when set, is the region the last PeerCount -
	// SecondRegionFrom peers run in: one cluster over two regions. Their
	// indices start at SecondRegionFirstIndex and their names live in
	// RegionNamespace(Namespace, SecondRegion), a namespace of that
	// region. Default: one region, peers 0 to PeerCount-1.
	SecondRegion     string
	SecondRegionFrom int
	// CPU and MemoryMiB of the task. Default 1024 and 4096.
	CPU       int
	MemoryMiB int
	// ReplicationFactorMin/Max of the cluster. Default 2 and 3.
	ReplicationFactorMin int
	ReplicationFactorMax int
	// KuboStorageMax is kubo's Datastore.StorageMax (the cluster's
	// free-space allocator reads it). Default "100GB".
	KuboStorageMax string
	// GatewayNoFetch makes the gateway serve only content this peer holds.
	// Default false.
	GatewayNoFetch bool
	// SyncPinsetWrites makes the cluster peer fsync every write of its
	// pinset (the CRDT store, leveldb) before it answers: an acknowledged
	// pin is then on the file system even if the task's host is lost, at
	// about a quarter of the pins per second (localcluster bench pins).
	// Default false: each write reaches the task's kernel before the
	// answer (a killed process loses none) and EFS within seconds, and
	// the other peers copy it within milliseconds.
	SyncPinsetWrites bool
	// ClusterMetrics turns on the cluster's Prometheus metrics
	// (CLUSTER_METRICS_ENABLESTATS) on the task's loopback, MetricsPort, for
	// a collector in the same task. Default false.
	ClusterMetrics bool
	// PublicGatewayHosts are host names kubo treats as path gateways
	// (Gateway.PublicGateways), for an origin that forwards Host. Default
	// none: this project's CloudFront edge does not forward Host to them.
	PublicGatewayHosts []string
	// SubdomainGatewayHosts are host names kubo serves as subdomain
	// gateways: <cid>.ipfs.<host> and <name>.ipns.<host> are content roots,
	// each its own web origin, and a path request on <host> redirects
	// there. Default none.
	SubdomainGatewayHosts []string
	// DNSLinkHosts are host names kubo serves as DNSLink websites: the
	// content /ipns/<host> resolves to through _dnslink.<host> TXT. Any
	// other Host never triggers a DNSLink lookup. Default none.
	DNSLinkHosts []string
	// DNSResolvers replaces kubo's DNS.Resolvers: a domain ("." for all,
	// else a name ending in ".") to a DNS-over-HTTPS URL, or "" for the
	// system resolver. Default: kubo's own ("." -> autoconf).
	DNSResolvers map[string]string
}

// WithDefaults returns a copy with zero values replaced by the defaults.
func (s Settings) WithDefaults() Settings {
	if s.CPU == 0 {
		s.CPU = DefaultCPU
	}
	if s.MemoryMiB == 0 {
		s.MemoryMiB = DefaultMemoryMiB
	}
	if s.ReplicationFactorMin == 0 && s.ReplicationFactorMax == 0 {
		s.ReplicationFactorMin, s.ReplicationFactorMax = DefaultReplicationFactorMin, DefaultReplicationFactorMax
	}
	if s.KuboStorageMax == "" {
		s.KuboStorageMax = DefaultKuboStorageMax
	}
	return s
}

var (
	// Lower-case labels, at least two, as Cloud Map private namespaces take.
	dnsNamePattern    = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	storageMaxPattern = regexp.MustCompile(`^[1-9][0-9]{0,5}(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)
	hostnamePattern   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// A top-level domain alone ("localhost.", "test.") may have a resolver.
	dnsLabelPattern    = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	resolverURLPattern = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/?&=+-]*)?$`)
	// Zone and region names (eu-west-1a, euw1-az1, eu-west-1).
	tagValuePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
	// kubo's DoH client refuses plain HTTP but to these.
	localResolverPattern = regexp.MustCompile(`^http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?(/|$)`)
)

// MaxProvisionedMiBps is EFS's limit for provisioned throughput.
const MaxProvisionedMiBps = 3414

// MaxPeers bounds a cluster: every peer dials every other one and the
// address list travels in each task definition's environment.
const MaxPeers = 30

// The peers' ipfs-cluster tags (informer.tags.tags).
const (
	ZoneTag   = "zone"
	RegionTag = "region"
)

// AllocateBy is the balanced allocator's order (allocator.balanced.allocate_by):
// a pin's replicas go to different regions first, then to different zones
// within a region, and only then, within one zone, to the peer with the
// shortest pin queue and the most free space. Upstream's default
// (tag:group, freespace) ignores zones: with more than three peers two
// replicas of a pin could share a zone. pinqueue before freespace is the
// order upstream's changelog gives for its pinqueue informer: a peer with a
// long backlog is passed over (its weight moves every 100,000 queued pins,
// so free space decides otherwise).
var AllocateBy = []string{"tag:" + RegionTag, "tag:" + ZoneTag, "pinqueue", "freespace"}

// Validate reports every problem at once; zero values that have defaults
// are fine.
func (s Settings) Validate() error {
	s = s.WithDefaults()
	l := propcheck.New("nodespec.Settings")
	if s.PeerCount < 1 || s.PeerCount > MaxPeers {
		l.Add("PeerCount", "%d is out of range; allowed: 1 to %d", s.PeerCount, MaxPeers)
	}
	if s.PeerCount >= 1 && s.PeerCount <= MaxPeers && !slices.Contains(s.PeerIndices(), s.Index) {
		l.Add("Index", "%d is not a peer of this cluster; allowed: %s", s.Index, describeIndices(s.PeerIndices()))
	}
	if err := ValidateNamespace(s.Namespace); err != nil {
		l.Add("Namespace", "%v", err)
	}
	if s.SecondRegion != "" {
		if s.SecondRegionFrom < 1 || s.SecondRegionFrom >= s.PeerCount {
			l.Add("SecondRegionFrom", "%d leaves a region without peers; allowed: 1 to PeerCount-1 (%d)", s.SecondRegionFrom, s.PeerCount-1)
		}
		if !tagValuePattern.MatchString(s.SecondRegion) {
			l.Add("SecondRegion", "%q is not allowed; allowed: lower-case letters, digits and inner '-', e.g. us-east-2", s.SecondRegion)
		} else if err := ValidateNamespace(RegionNamespace(s.Namespace, s.SecondRegion)); err != nil && ValidateNamespace(s.Namespace) == nil {
			l.Add("SecondRegion", "the second region's namespace: %v", err)
		}
	} else if s.SecondRegionFrom != 0 {
		l.Add("SecondRegionFrom", "%d without a SecondRegion; allowed: 0", s.SecondRegionFrom)
	}
	for _, tag := range []struct{ field, name, value, example string }{{"Zone", ZoneTag, s.Zone, "eu-west-1a"}, {"Region", RegionTag, s.Region, "eu-west-1"}} {
		switch {
		case tag.value == "":
			l.Add(tag.field, "required: the allocator never places a pin on a peer that lacks its %s tag", tag.name)
		case !tagValuePattern.MatchString(tag.value):
			l.Add(tag.field, "%q is not allowed; allowed: lower-case letters, digits and inner '-', e.g. %s (the cluster parses its tags as name:value,name:value)", tag.value, tag.example)
		}
	}
	if memories, ok := FargateMemoryMiB[s.CPU]; !ok {
		l.Add("CPU", "%d is not a Fargate CPU value; allowed: %v", s.CPU, sortedKeys(FargateMemoryMiB))
	} else if !slices.Contains(memories, s.MemoryMiB) {
		l.Add("MemoryMiB", "%d MiB is not valid with %d CPU units; allowed: %s", s.MemoryMiB, s.CPU, describeMemories(memories))
	}
	if s.MemoryMiB < MinMemoryMiB {
		l.Add("MemoryMiB", "%d MiB is too small to run kubo and the cluster sidecar together; allowed: %d or more", s.MemoryMiB, MinMemoryMiB)
	}
	if s.ReplicationFactorMin < 1 || s.ReplicationFactorMax < s.ReplicationFactorMin || s.ReplicationFactorMax > s.PeerCount {
		l.Add("ReplicationFactorMin", "min=%d max=%d; allowed: 1 <= min <= max <= the number of peers (%d)", s.ReplicationFactorMin, s.ReplicationFactorMax, s.PeerCount)
	}
	if _, err := StorageMaxBytes(s.KuboStorageMax); err != nil {
		l.Add("KuboStorageMax", "%v", err)
	}
	// One host, one role: kubo keeps one Gateway.PublicGateways entry per
	// host name.
	seen := map[string]string{}
	for _, list := range []struct {
		field string
		hosts []string
	}{{"PublicGatewayHosts", s.PublicGatewayHosts}, {"SubdomainGatewayHosts", s.SubdomainGatewayHosts}, {"DNSLinkHosts", s.DNSLinkHosts}} {
		for _, h := range list.hosts {
			switch {
			case len(h) > 253 || !hostnamePattern.MatchString(h):
				l.Add(list.field, "%q is not a host name; allowed: lower-case DNS names without a port or wildcard", h)
			case seen[h] == list.field:
				l.Add(list.field, "%q is listed twice", h)
			case seen[h] != "":
				l.Add(list.field, "%q is also in %s; allowed: one role per host name", h, seen[h])
			}
			seen[h] = list.field
		}
	}
	for _, domain := range slices.Sorted(maps.Keys(s.DNSResolvers)) {
		url := s.DNSResolvers[domain]
		if domain != "." && (!strings.HasSuffix(domain, ".") || !hostnamePattern.MatchString(strings.TrimSuffix(domain, ".")) && !dnsLabelPattern.MatchString(strings.TrimSuffix(domain, "."))) {
			l.Add("DNSResolvers", "domain %q; allowed: \".\" or a lower-case DNS name ending in \".\" (kubo wants fully qualified names)", domain)
		}
		if url != "" && (!resolverURLPattern.MatchString(url) || !strings.HasPrefix(url, "https://") && !localResolverPattern.MatchString(url)) {
			l.Add("DNSResolvers", "%q for %q; allowed: \"\" (the system resolver) or a DNS-over-HTTPS URL https://host[:port]/path without commas or quotes, http:// only on 127.0.0.1 or localhost (kubo takes DoH only)", url, domain)
		}
	}
	return l.Err()
}

// storageUnits are the units storageMaxPattern admits, as kubo reads them
// (go-humanize ParseBytes: decimal KB/MB/GB/TB, binary KiB/MiB/GiB/TiB).
var storageUnits = map[string]uint64{
	"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

// StorageMaxBytes is KuboStorageMax in bytes, as kubo computes it: the
// storage alarm compares the file system's size with it.
func StorageMaxBytes(size string) (uint64, error) {
	if !storageMaxPattern.MatchString(size) {
		return 0, fmt.Errorf("%q is not a size; allowed: a whole number (up to 6 digits) with a unit KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. 100GB", size)
	}
	digits := strings.TrimRight(size, "KMGTBi")
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, err
	}
	return n * storageUnits[size[len(digits):]], nil
}

var restAPIUsernamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidateRestAPIUsername checks a REST API user name: the cluster container
// takes its credentials as "user:pass,user:pass".
func ValidateRestAPIUsername(name string) error {
	if !restAPIUsernamePattern.MatchString(name) {
		return fmt.Errorf("%q is not allowed; allowed: 1-64 letters, digits, '.', '_' or '-' (no ':' or ',': the cluster parses user:pass,user:pass)", name)
	}
	return nil
}

// ValidateNamespace checks a Cloud Map private DNS namespace name.
func ValidateNamespace(name string) error {
	if len(name) > 253 || !dnsNamePattern.MatchString(name) {
		return fmt.Errorf("%q is not a DNS name; allowed: lower-case labels (letters, digits, inner hyphens) separated by dots, at least two, e.g. ipfs-cluster.internal", name)
	}
	return nil
}

// PeerName is peer i's name: its Cloud Map service, its cluster peername.
func PeerName(i int) string { return "node" + strconv.Itoa(i) }

// PeerDNSName is peer i's name in the namespace.
func PeerDNSName(i int, namespace string) string { return PeerName(i) + "." + namespace }

// SecondRegionFirstIndex is the index of a second region's first peer, its
// others following: far above any first region (MaxPeers), so that scaling
// either region never renumbers the other's peers. A peer's index is its
// identity (derived from the seed) and its name (node100, ...), which its
// file system's state belongs to.
const SecondRegionFirstIndex = 100

// PeerIndex is the index of the peer at position i of the cluster's peers
// in order (the first region's, then the second region's).
func (s Settings) PeerIndex(i int) int {
	if s.SecondRegion != "" && i >= s.SecondRegionFrom {
		return SecondRegionFirstIndex + i - s.SecondRegionFrom
	}
	return i
}

// PeerIndices are every peer's index, in order.
func (s Settings) PeerIndices() []int {
	out := make([]int, max(s.PeerCount, 0))
	for i := range out {
		out[i] = s.PeerIndex(i)
	}
	return out
}

// describeIndices says which indices a cluster has, e.g. "0 to 2 and 100
// to 102".
func describeIndices(indices []int) string {
	var runs []string
	for i := 0; i < len(indices); {
		j := i
		for j+1 < len(indices) && indices[j+1] == indices[j]+1 {
			j++
		}
		if i == j {
			runs = append(runs, strconv.Itoa(indices[i]))
		} else {
			runs = append(runs, fmt.Sprintf("%d to %d", indices[i], indices[j]))
		}
		i = j + 1
	}
	return strings.Join(runs, " and ")
}

// RegionNamespace is the namespace of the peers of a cluster's second
// region: a Cloud Map namespace belongs to one region, and a VPC takes one
// private hosted zone per name, so each region has its own, the second
// one's below the first one's (Route 53 answers from the most specific
// zone a VPC has).
func RegionNamespace(namespace, region string) string { return region + "." + namespace }

// PeerNamespace is the namespace the name of the peer with index i lives
// in.
func (s Settings) PeerNamespace(i int) string {
	if s.SecondRegion != "" && i >= SecondRegionFirstIndex {
		return RegionNamespace(s.Namespace, s.SecondRegion)
	}
	return s.Namespace
}

// PeerMultiaddrs are every peer's cluster swarm address in index order,
// without /p2p: the cluster image derives the peer IDs from the seed.
func (s Settings) PeerMultiaddrs() []string {
	var out []string
	for _, i := range s.PeerIndices() {
		out = append(out, fmt.Sprintf("/dns4/%s/tcp/%d", PeerDNSName(i, s.PeerNamespace(i)), ClusterSwarmPort))
	}
	return out
}

// PinningServiceMemoryMiB is the Pinning Service API layer's share of the
// task memory, its container's hard limit: it holds no state, only the
// pins of one listing at a time. PinningServiceGoLimitMiB is its
// GOMEMLIMIT, below the share.
const (
	PinningServiceMemoryMiB  = 128
	PinningServiceGoLimitMiB = 100
)

// memoryBudget splits the task memory: the cluster sidecar needs little,
// the Pinning Service API layer a fixed PinningServiceMemoryMiB, kubo gets
// the rest. GOMEMLIMIT sits below each share so the Go runtime collects
// before the kernel kills; each libp2p resource manager gets half of its
// process's share.
type memoryBudget struct {
	clusterGoLimitMiB, clusterResourceMgrMiB, kuboGoLimitMiB, kuboResourceMgrMiB int
}

func budget(taskMiB int) memoryBudget {
	clusterShare := min(max(taskMiB/8, 384), 2048)
	kuboShare := taskMiB - clusterShare - PinningServiceMemoryMiB
	return memoryBudget{
		clusterGoLimitMiB:     clusterShare * 3 / 4,
		clusterResourceMgrMiB: clusterShare / 2,
		kuboGoLimitMiB:        kuboShare * 4 / 5,
		kuboResourceMgrMiB:    kuboShare / 2,
	}
}

// Wildcard addresses the containers listen on in a task (awsvpc: the task's
// own interface); loopback for what must never leave the task.
const (
	anyAddress      = "0.0.0.0"
	loopbackAddress = "127.0.0.1"
)

func tcp(address string, port int) string { return fmt.Sprintf("/ip4/%s/tcp/%d", address, port) }

// Listen addresses, built the same way for the task (wildcard/loopback) and
// for a local peer (its own loopback address for everything).
func kuboAddresses(public, local string) map[string]string {
	return map[string]string{
		"KUBO_API_ADDRESS":     tcp(local, KuboRPCPort),
		"KUBO_GATEWAY_ADDRESS": tcp(public, GatewayPort),
		"KUBO_SWARM_ADDRESSES": strings.Join([]string{
			tcp(public, SwarmPort),
			fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", public, SwarmPort),
			fmt.Sprintf("/ip4/%s/udp/%d/quic-v1/webtransport", public, SwarmPort),
			fmt.Sprintf("/ip4/%s/udp/%d/webrtc-direct", public, SwarmPort),
		}, ","),
	}
}

func clusterAddresses(public, local string) map[string]string {
	return map[string]string{
		"CLUSTER_LISTENMULTIADDRESS":               tcp(public, ClusterSwarmPort),
		"CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS":   tcp(public, RestAPIPort),
		"CLUSTER_IPFSHTTP_NODEMULTIADDRESS":        tcp(local, KuboRPCPort),
		"CLUSTER_IPFSPROXY_LISTENMULTIADDRESS":     tcp(local, IPFSProxyPort),
		"CLUSTER_IPFSPROXY_NODEMULTIADDRESS":       tcp(local, KuboRPCPort),
		"CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS": tcp(local, PinSvcAPIPort),
		// Listens only with ClusterMetrics; named always so a stray
		// enable_stats in service.json cannot open it elsewhere.
		"CLUSTER_METRICS_PROMETHEUSENDPOINT": tcp(local, MetricsPort),
	}
}

// Environment variables of the Pinning Service API layer
// (docker/ipfs-cluster/cmd/pinning-service). It takes the REST API's
// credentials as the cluster container does: RestAPIUsernameVariable and
// RestAPIPasswordVariable, ECS secrets.
const (
	PinningServiceListenVariable     = "PSA_LISTEN_ADDRESS"
	PinningServiceBasePathVariable   = "PSA_BASE_PATH"
	PinningServiceClusterURLVariable = "PSA_CLUSTER_API_URL"
)

// PinningServiceCommand runs the layer in the cluster image.
var PinningServiceCommand = []string{"/usr/local/bin/pinning-service"}

// PinningServiceHealthPath answers 204 without credentials while the layer
// and its peer's REST API are live: the load balancer's and the
// container's health check.
const PinningServiceHealthPath = PinningServicePath + "/health"

// pinningServiceAddresses: the layer listens where the load balancer
// reaches it and talks to its own peer's REST API.
func pinningServiceAddresses(public, local string) map[string]string {
	return map[string]string{
		PinningServiceListenVariable:     fmt.Sprintf("%s:%d", public, PinningServicePort),
		PinningServiceClusterURLVariable: fmt.Sprintf("http://%s:%d", local, RestAPIPort),
	}
}

// PinningServiceEnvironment returns the non-secret environment of every
// peer's Pinning Service API layer, exactly as the task definition sets it.
func PinningServiceEnvironment() map[string]string {
	env := pinningServiceAddresses(anyAddress, loopbackAddress)
	env[PinningServiceBasePathVariable] = PinningServicePath
	env["GOMEMLIMIT"] = fmt.Sprintf("%dMiB", PinningServiceGoLimitMiB)
	return env
}

// LocalPinningServiceAddresses returns the layer's address variables for a
// peer that listens on one loopback address.
func LocalPinningServiceAddresses(ip string) map[string]string {
	return pinningServiceAddresses(ip, ip)
}

// Environment returns the non-secret environment of the peer's kubo and
// cluster containers, exactly as the task definition sets it. The secrets
// (IdentitySeedVariable, RestAPI*Variable) come on top, as ECS secrets.
func (s Settings) Environment() (kubo, cluster map[string]string) {
	s = s.WithDefaults()
	memory := budget(s.MemoryMiB)
	kubo = kuboAddresses(anyAddress, loopbackAddress)
	kubo["KUBO_STORAGE_MAX"] = s.KuboStorageMax
	kubo["KUBO_RESOURCE_MAX_MEMORY"] = fmt.Sprintf("%dMiB", memory.kuboResourceMgrMiB)
	kubo["KUBO_GATEWAY_NOFETCH"] = strconv.FormatBool(s.GatewayNoFetch)
	kubo["GOMEMLIMIT"] = fmt.Sprintf("%dMiB", memory.kuboGoLimitMiB)
	kubo["IPFS_WAIT_REPO_LOCK"] = KuboRepoLockWait.String()
	if len(s.PublicGatewayHosts) > 0 {
		kubo["KUBO_PUBLIC_GATEWAY_HOSTS"] = strings.Join(s.PublicGatewayHosts, ",")
	}
	if len(s.SubdomainGatewayHosts) > 0 {
		kubo["KUBO_SUBDOMAIN_GATEWAY_HOSTS"] = strings.Join(s.SubdomainGatewayHosts, ",")
	}
	if len(s.DNSLinkHosts) > 0 {
		kubo["KUBO_DNSLINK_HOSTS"] = strings.Join(s.DNSLinkHosts, ",")
	}
	if len(s.DNSResolvers) > 0 {
		kubo["KUBO_DNS_RESOLVERS"] = DNSResolversVariable(s.DNSResolvers)
	}

	cluster = clusterAddresses(anyAddress, loopbackAddress)
	cluster["CLUSTER_PEER_INDEX"] = strconv.Itoa(s.Index)
	cluster["CLUSTER_PEER_MULTIADDRS"] = strings.Join(s.PeerMultiaddrs(), ",")
	if s.SecondRegion != "" {
		// The list's indices, where they are not its positions.
		var indices []string
		for _, i := range s.PeerIndices() {
			indices = append(indices, strconv.Itoa(i))
		}
		cluster[PeerIndicesVariable] = strings.Join(indices, ",")
	}
	cluster["CLUSTER_PEERNAME"] = PeerName(s.Index)
	cluster["CLUSTER_REPLICATIONFACTORMIN"] = strconv.Itoa(s.ReplicationFactorMin)
	cluster["CLUSTER_REPLICATIONFACTORMAX"] = strconv.Itoa(s.ReplicationFactorMax)
	cluster["GOMEMLIMIT"] = fmt.Sprintf("%dMiB", memory.clusterGoLimitMiB)
	// Without it libp2p sizes its limits from the host's memory, not the
	// task's.
	cluster["CLUSTER_RESOURCEMANAGER_MEMORYLIMITBYTES"] = strconv.Itoa(memory.clusterResourceMgrMiB << 20)
	cluster["IPFS_CLUSTER_WAIT_LOCK"] = ClusterStateLockWait.String()
	cluster["CLUSTER_METRICS_ENABLESTATS"] = strconv.FormatBool(s.ClusterMetrics)
	cluster[PinsetNoSyncVariable] = strconv.FormatBool(!s.SyncPinsetWrites)
	// Replaces the tags of service.json (upstream's group:default), which
	// AllocateBy does not use.
	cluster["CLUSTER_TAGS_TAGS"] = s.tagsVariable()
	cluster["CLUSTER_BALANCED_ALLOCATEBY"] = strings.Join(AllocateBy, ",")
	return kubo, cluster
}

// Tags are the peer's ipfs-cluster tags.
func (s Settings) Tags() map[string]string {
	return map[string]string{RegionTag: s.Region, ZoneTag: s.Zone}
}

// tagsVariable is CLUSTER_TAGS_TAGS: name:value pairs in name order.
func (s Settings) tagsVariable() string {
	tags := s.Tags()
	var pairs []string
	for _, name := range slices.Sorted(maps.Keys(tags)) {
		pairs = append(pairs, name+":"+tags[name])
	}
	return strings.Join(pairs, ",")
}

// DNSResolversVariable is KUBO_DNS_RESOLVERS for resolvers: domain=url
// pairs, comma-separated, in domain order.
func DNSResolversVariable(resolvers map[string]string) string {
	var pairs []string
	for _, domain := range slices.Sorted(maps.Keys(resolvers)) {
		pairs = append(pairs, domain+"="+resolvers[domain])
	}
	return strings.Join(pairs, ",")
}

// LocalAddresses returns the address variables of both containers for a
// peer that listens on one loopback address (several peers on one host):
// the local cluster's replacement for the task's wildcard addresses.
func LocalAddresses(ip string) (kubo, cluster map[string]string) {
	return kuboAddresses(ip, ip), clusterAddresses(ip, ip)
}

func sortedKeys(m map[int][]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func describeMemories(memories []int) string {
	if len(memories) <= 3 {
		return fmt.Sprint(memories)
	}
	return fmt.Sprintf("%d to %d in steps of %d", memories[0], memories[len(memories)-1], memories[1]-memories[0])
}
