package nodespec

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// TestMemoryBudget: each process's Go limit stays below its share, the
// shares add up to the task, and libp2p gets half of its process's share.
func TestMemoryBudget(t *testing.T) {
	for _, taskMiB := range []int{2048, 3072, 4096, 8192, 16384, 30720, 122880} {
		b := budget(taskMiB)
		clusterShare := min(max(taskMiB/8, 384), 2048)
		kuboShare := taskMiB - clusterShare - PinningServiceMemoryMiB
		if b.clusterGoLimitMiB >= clusterShare || b.kuboGoLimitMiB >= kuboShare {
			t.Errorf("%d MiB: Go limits %d/%d not below the shares %d/%d", taskMiB, b.clusterGoLimitMiB, b.kuboGoLimitMiB, clusterShare, kuboShare)
		}
		if b.clusterGoLimitMiB+b.kuboGoLimitMiB+PinningServiceGoLimitMiB >= taskMiB || PinningServiceGoLimitMiB >= PinningServiceMemoryMiB {
			t.Errorf("%d MiB: Go limits add up to %d, the task's limit or more", taskMiB, b.clusterGoLimitMiB+b.kuboGoLimitMiB)
		}
		if b.clusterResourceMgrMiB != clusterShare/2 || b.kuboResourceMgrMiB != kuboShare/2 {
			t.Errorf("%d MiB: resource managers %d/%d, want half of %d/%d", taskMiB, b.clusterResourceMgrMiB, b.kuboResourceMgrMiB, clusterShare, kuboShare)
		}
		if clusterShare < 384 || clusterShare > 2048 {
			t.Errorf("%d MiB: cluster share %d outside 384..2048", taskMiB, clusterShare)
		}
	}
	// The default task: 512 MiB for the sidecar, 128 MiB for the Pinning
	// Service API layer, the rest for kubo.
	if got := budget(4096); got != (memoryBudget{clusterGoLimitMiB: 384, clusterResourceMgrMiB: 256, kuboGoLimitMiB: 2764, kuboResourceMgrMiB: 1728}) {
		t.Errorf("budget(4096) = %+v", got)
	}
}

func TestEnvironmentOfTheDefaultPeer(t *testing.T) {
	kubo, cluster := Settings{Index: 1, PeerCount: 3, Namespace: "ipfs.internal", Zone: "eu-west-1b", Region: "eu-west-1"}.Environment()
	want := map[string]string{
		"KUBO_GATEWAY_NOFETCH": "false",
		"KUBO_STORAGE_MAX":     "100GB",
		"KUBO_API_ADDRESS":     "/ip4/127.0.0.1/tcp/5001",
		"KUBO_GATEWAY_ADDRESS": "/ip4/0.0.0.0/tcp/8080",
		"IPFS_WAIT_REPO_LOCK":  "3m0s",
		"GOMEMLIMIT":           "2764MiB",
	}
	for k, v := range want {
		if kubo[k] != v {
			t.Errorf("kubo %s = %q, want %q", k, kubo[k], v)
		}
	}
	wantCluster := map[string]string{
		"CLUSTER_PEER_INDEX":                       "1",
		"CLUSTER_PEERNAME":                         "node1",
		"CLUSTER_PEER_MULTIADDRS":                  "/dns4/node0.ipfs.internal/tcp/9096,/dns4/node1.ipfs.internal/tcp/9096,/dns4/node2.ipfs.internal/tcp/9096",
		"CLUSTER_REPLICATIONFACTORMIN":             "2",
		"CLUSTER_REPLICATIONFACTORMAX":             "3",
		"CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS":   "/ip4/0.0.0.0/tcp/9094",
		"CLUSTER_IPFSHTTP_NODEMULTIADDRESS":        "/ip4/127.0.0.1/tcp/5001",
		"CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS": "/ip4/127.0.0.1/tcp/9097",
		"IPFS_CLUSTER_WAIT_LOCK":                   "3m0s",
		// ipfs-cluster v1.1.6's envconfig names (informer/tags: prefix
		// cluster_tags, allocator/balanced: cluster_balanced); maps are
		// name:value,name:value.
		"CLUSTER_TAGS_TAGS":           "region:eu-west-1,zone:eu-west-1b",
		"CLUSTER_BALANCED_ALLOCATEBY": "tag:region,tag:zone,pinqueue,freespace",
	}
	for k, v := range wantCluster {
		if cluster[k] != v {
			t.Errorf("cluster %s = %q, want %q", k, cluster[k], v)
		}
	}
	for name, env := range map[string]map[string]string{"kubo": kubo, "cluster": cluster} {
		for k := range env {
			if k == IdentitySeedVariable || strings.HasPrefix(k, "RESTAPI_") {
				t.Errorf("%s environment carries the secret variable %s", name, k)
			}
		}
	}
}

// TestStartPeriodsOutlastTheLockWaits: ECS must not kill a container that
// is correctly waiting for a dead task's lock, and ECS caps start periods.
func TestStartPeriodsOutlastTheLockWaits(t *testing.T) {
	if KuboStartPeriod <= KuboRepoLockWait || ClusterStartPeriod <= ClusterStateLockWait {
		t.Errorf("start periods %s/%s do not exceed the lock waits %s/%s", KuboStartPeriod, ClusterStartPeriod, KuboRepoLockWait, ClusterStateLockWait)
	}
	if KuboStartPeriod > 300*time.Second || ClusterStartPeriod > 300*time.Second {
		t.Errorf("ECS allows start periods up to 300 s, got %s/%s", KuboStartPeriod, ClusterStartPeriod)
	}
	if LoadBalancerGracePeriod < KuboStartPeriod+ClusterStartPeriod {
		t.Errorf("grace period %s is shorter than both start periods", LoadBalancerGracePeriod)
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	err := Settings{Index: 5, PeerCount: 3, Namespace: "Not_A_Name", Zone: "eu-west-1a,x:y", CPU: 3, MemoryMiB: 1000, ReplicationFactorMin: 3, ReplicationFactorMax: 2, KuboStorageMax: "lots", PublicGatewayHosts: []string{"*.x.org"}}.Validate()
	fields := map[string]bool{}
	for _, p := range propcheck.Problems(err) {
		fields[p.Field] = true
	}
	for _, f := range []string{"Index", "Namespace", "Zone", "Region", "CPU", "MemoryMiB", "ReplicationFactorMin", "KuboStorageMax", "PublicGatewayHosts"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s in %v", f, err)
		}
	}
	if err := (Settings{PeerCount: 3, Namespace: "ipfs-cluster.internal", Zone: "eu-west-1a", Region: "eu-west-1"}).Validate(); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

// TestAllocationSpreadsOverTheTagsFirst: the allocator's order names every
// tag the peers carry, regions before zones, all of them before the
// metrics that rank peers within a zone; a peer without one of them would
// never be allocated (upstream skips peers that lack a metric).
func TestAllocationSpreadsOverTheTagsFirst(t *testing.T) {
	s := Settings{Zone: "eu-west-1a", Region: "eu-west-1"}
	var tags []string
	for i, by := range AllocateBy {
		name, isTag := strings.CutPrefix(by, "tag:")
		if isTag {
			if len(tags) != i {
				t.Errorf("allocate_by %v: %s comes after a metric that is not a tag", AllocateBy, by)
			}
			if _, ok := s.Tags()[name]; !ok {
				t.Errorf("allocate_by names tag %q, which the peers do not carry (%v)", name, s.Tags())
			}
			tags = append(tags, name)
		}
	}
	if !slices.Equal(tags, []string{RegionTag, ZoneTag}) {
		t.Errorf("allocate_by's tags %v, want region then zone", tags)
	}
	if len(tags) != len(s.Tags()) {
		t.Errorf("the peers carry tags %v that allocate_by %v does not use", s.Tags(), AllocateBy)
	}
}

// TestSecondRegionPeersLiveInTheirRegionsNamespace: one address list for the
// whole cluster, the second region's peers named in a namespace below the
// first one's, the indices continuing.
func TestSecondRegionPeersLiveInTheirRegionsNamespace(t *testing.T) {
	s := Settings{Index: 101, PeerCount: 5, Zone: "us-east-2b", Region: "us-east-2", Namespace: "ipfs-cluster.internal", SecondRegion: "us-east-2", SecondRegionFrom: 3}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/dns4/node0.ipfs-cluster.internal/tcp/9096",
		"/dns4/node1.ipfs-cluster.internal/tcp/9096",
		"/dns4/node2.ipfs-cluster.internal/tcp/9096",
		"/dns4/node100.us-east-2.ipfs-cluster.internal/tcp/9096",
		"/dns4/node101.us-east-2.ipfs-cluster.internal/tcp/9096",
	}
	_, cluster := s.Environment()
	if got := cluster["CLUSTER_PEER_MULTIADDRS"]; got != strings.Join(want, ",") {
		t.Fatalf("CLUSTER_PEER_MULTIADDRS = %s, want %s", got, strings.Join(want, ","))
	}
	if got := cluster[PeerIndicesVariable]; got != "0,1,2,100,101" {
		t.Fatalf("%s = %s", PeerIndicesVariable, got)
	}
	if got := cluster["CLUSTER_PEERNAME"]; got != "node101" {
		t.Fatalf("CLUSTER_PEERNAME = %s", got)
	}
	// Scaling the first region leaves the second region's indices alone.
	grown := s
	grown.PeerCount, grown.SecondRegionFrom = 6, 4
	if got := grown.PeerIndices(); !slices.Equal(got, []int{0, 1, 2, 3, 100, 101}) {
		t.Fatalf("indices after scaling the first region: %v", got)
	}
	if err := (Settings{Index: 3, PeerCount: 5, Zone: "a", Region: "r", Namespace: "a.b", SecondRegion: "us-east-2", SecondRegionFrom: 3}).Validate(); err == nil || !strings.Contains(err.Error(), "allowed: 0 to 2 and 100 to 101") {
		t.Errorf("index 3 of a 3+2 cluster: %v", err)
	}
	if got := cluster["CLUSTER_TAGS_TAGS"]; got != "region:us-east-2,zone:us-east-2b" {
		t.Fatalf("CLUSTER_TAGS_TAGS = %s", got)
	}

	one := Settings{PeerCount: 3, Zone: "eu-west-1a", Region: "eu-west-1", Namespace: "ipfs-cluster.internal"}
	if got := one.PeerMultiaddrs()[2]; got != "/dns4/node2.ipfs-cluster.internal/tcp/9096" {
		t.Fatalf("one region: %s", got)
	}

	for name, bad := range map[string]Settings{
		"SecondRegionFrom": {PeerCount: 3, Zone: "a", Region: "r", Namespace: "a.b", SecondRegion: "us-east-2", SecondRegionFrom: 3},
		"SecondRegion":     {PeerCount: 3, Zone: "a", Region: "r", Namespace: "a.b", SecondRegion: "US_EAST", SecondRegionFrom: 1},
	} {
		fields := map[string]bool{}
		for _, p := range propcheck.Problems(bad.Validate()) {
			fields[p.Field] = true
		}
		if !fields[name] {
			t.Errorf("%s not reported: %v", name, bad.Validate())
		}
	}
	if err := (Settings{PeerCount: 3, Zone: "a", Region: "r", Namespace: "a.b", SecondRegionFrom: 2}).Validate(); err == nil || !strings.Contains(err.Error(), "SecondRegionFrom") {
		t.Errorf("SecondRegionFrom without a region: %v", err)
	}
}
