package scenarios

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// The zone drill (issue 14, item 4).
const (
	zonePeers     = 6 // two per zone
	zonePins      = 12
	controlPins   = 6
	zonePinSize   = 32 << 10
	zoneRF        = 2
	readBackLimit = 2 * time.Minute
)

// A zone's loss takes no pin away: six peers (zone = index mod 3, the
// deployed rule), the two of one zone the emptiest, replication 2. Every
// pin gets one copy in that zone and the other in another zone; with both
// of its peers killed every CID still reads back through the local edge.
//
// Before that, a control run with the zone tags left out of allocate_by
// (and nothing else changed) shows that the same cluster puts both copies
// of every pin in the emptiest zone, so the assertions below cannot pass
// by luck; after the kill one of those pins is indeed unreachable.
func TestZoneLossKeepsEveryPin(t *testing.T) {
	ctx := scenarioCtx(t, 30*time.Minute)
	// Six peers on the shared cluster's addresses: it makes way (the next
	// scenario would start it again).
	if shared != nil {
		if err := shared.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	overrides := map[string]string{config.KeyNodeCount: strconv.Itoa(zonePeers)}
	cfg := zoneConfig(t, overrides)
	emptiest := cfg.AvailabilityZones[1]
	inZone := func(zone string) []int {
		var out []int
		for i := range zonePeers {
			if cfg.ZoneOf(i) == zone {
				out = append(out, i)
			}
		}
		return out
	}
	lost := inZone(emptiest)
	roomier := roomierStorage(t, cfg.KuboStorageMax)
	// The node construct's environment from the same configuration; the
	// emptiest zone's kubo daemons get a larger Datastore.StorageMax, which
	// is what the cluster's free-space metric reads (StorageMax - RepoSize):
	// more room left, as a zone whose peers hold less would have.
	deployed := func(i, peers int) (map[string]string, map[string]string) {
		s := cfg.NodeSettings(i)
		s.PeerCount = peers
		if s.Zone == emptiest {
			s.KuboStorageMax = roomier
		}
		return s.Environment()
	}
	// One cluster (one root, one pinset), started twice: c is the running
	// one, stopped at the end whatever happens.
	var c *localcluster.Cluster
	t.Cleanup(func() {
		if c == nil {
			return
		}
		if t.Failed() {
			dumpLogs(t, c)
		}
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	root := filepath.Join(dataRoot, "zones")
	newCluster := func(clusterEnv ...string) *localcluster.Cluster {
		return ownCluster(t, root, func(o *localcluster.Options) {
			o.Context, o.Deployed, o.ClusterEnv = overrides, deployed, clusterEnv
		})
	}

	// Control: allocate_by without its tag entries.
	var untagged []string
	for _, by := range nodespec.AllocateBy {
		if !strings.HasPrefix(by, "tag:") {
			untagged = append(untagged, by)
		}
	}
	c = newCluster("CLUSTER_BALANCED_ALLOCATEBY=" + strings.Join(untagged, ","))
	for i := range c.Peers {
		_, cluster, err := c.PeerEnvironment(i)
		if err != nil {
			t.Fatal(err)
		}
		if want := "region:" + cfg.Region + ",zone:" + cfg.ZoneOf(i); cluster["CLUSTER_TAGS_TAGS"] != want {
			t.Fatalf("node%d's tags %q, want %q: a local peer is tagged as its deployed counterpart", i, cluster["CLUSTER_TAGS_TAGS"], want)
		}
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ids := derivedIDs(t, c)
	zoneOf := func(peerID string) string {
		i := indexOf(ids, peerID)
		if i < 0 {
			t.Fatalf("allocation to %s, not a peer of this cluster", peerID)
		}
		return cfg.ZoneOf(i)
	}
	var control []string
	for range controlPins {
		cid, _ := addZonePin(t, ctx, c.Peer(0).Client())
		control = append(control, cid)
	}
	controlAllocs := allocationsOf(t, ctx, c, control)
	for _, cid := range control {
		zones := zonesOf(controlAllocs[cid], zoneOf)
		if len(zones) != zoneRF || zones[0] != emptiest || zones[1] != emptiest {
			t.Fatalf("control (allocate_by %v): %s went to zones %v; want both copies in the emptiest zone %s, else this drill cannot tell zone-aware allocation from luck", untagged, cid, zones, emptiest)
		}
	}
	t.Logf("control, allocate_by %v: all %d pins have both copies in %s (peers %v)", untagged, controlPins, emptiest, lost)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	// The deployed allocation order.
	c = newCluster()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	edge := startLocalEdge(t, ctx, c, false)
	viaEdge := localcluster.NewClient(edge.APIURL(), c.Secrets.Username, c.Secrets.Password)
	data := map[string][]byte{}
	var cids []string
	start := time.Now()
	for range zonePins {
		cid, b := addZonePin(t, ctx, viaEdge)
		cids = append(cids, cid)
		data[cid] = b
	}
	addTime := time.Since(start)
	allocs := allocationsOf(t, ctx, c, cids)
	spread := map[string]int{}
	perPeer := map[int]int{}
	for _, cid := range cids {
		zones := zonesOf(allocs[cid], zoneOf)
		if len(zones) != zoneRF || zones[0] == zones[1] {
			t.Errorf("%s: allocations %v in zones %v; want %d distinct zones", cid, allocs[cid], zones, zoneRF)
		}
		// The emptiest zone draws one copy of every pin, so losing it
		// tests every pin.
		if !slices.Contains(zones, emptiest) {
			t.Errorf("%s: zones %v, none the emptiest (%s): the free-space order within the tags is lost", cid, zones, emptiest)
		}
		spread[strings.Join(zones, "+")]++
		for _, a := range allocs[cid] {
			perPeer[indexOf(ids, a)]++
		}
		var holders []int
		for _, a := range allocs[cid] {
			holders = append(holders, indexOf(ids, a))
		}
		waitPinnedOn(t, ctx, c, cid, holders)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d pins of %d KiB, replication %d, added through the local edge in %s; zones of the two copies: %v; copies per peer: %v",
		zonePins, zonePinSize>>10, zoneRF, addTime.Round(time.Millisecond), spread, perPeer)

	// The zone goes: both of its peers die at once.
	killed := time.Now()
	for _, i := range lost {
		if err := c.KillPeer(i); err != nil {
			t.Fatal(err)
		}
	}
	live := without(everyPeer(), lost...)
	expired := make(chan time.Duration, 1)
	go func() { expired <- metricsExpiry(ctx, c, live[0], ids, lost, killed) }()
	// A pin added at once, before the lost peers' metrics expire: the
	// allocator still counts them.
	window, windowData := addZonePin(t, ctx, c.Peer(0).Client())
	windowAllocs := allocationsOf(t, ctx, c, []string{window})[window]
	var windowLost, windowLive []int
	for _, a := range windowAllocs {
		if i := indexOf(ids, a); slices.Contains(lost, i) {
			windowLost = append(windowLost, i)
		} else {
			windowLive = append(windowLive, i)
		}
	}
	waitPinnedOn(t, ctx, c, window, windowLive)
	t.Logf("a pin added %s after the loss was allocated to lost peers %v and live peers %v", time.Since(killed).Round(time.Millisecond), windowLost, windowLive)
	cids = append(cids, window)
	data[window] = windowData

	gateway := edge.GatewayURL()
	start = time.Now()
	retries := 0
	var reads []time.Duration
	for _, cid := range cids {
		readStart := time.Now()
		retries += readBack(t, ctx, gateway, cid, data[cid])
		reads = append(reads, time.Since(readStart).Round(time.Millisecond))
	}
	t.Logf("zone %s lost (peers %v): all %d CIDs read back byte-identical through the local edge in %s (each: %v; %d retried reads while the edge's health checks caught up)",
		emptiest, lost, len(cids), time.Since(start).Round(time.Millisecond), reads, retries)

	// And the control's pins, whose two copies were both in that zone, are
	// gone with it: the read-back above is no formality.
	readCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err := localcluster.GatewayGet(readCtx, gateway, control[0])
	cancel()
	if err == nil {
		t.Fatalf("%s, held only by the lost zone's peers, still read back: the drill does not take the zone's copies away", control[0])
	}
	t.Logf("a control pin held only in %s is unreachable, as expected: %v", emptiest, err)

	// Pins added while the zone is down: once the dead peers' metrics
	// have expired, the allocator spreads over the zones left.
	expiry := <-expired
	if expiry < 0 {
		t.Fatalf("node%d still holds metrics of the lost peers %v", live[0], lost)
	}
	t.Logf("node%d held the lost peers' metrics until %s after the kill", live[0], expiry.Round(100*time.Millisecond))
	for range 3 {
		cid, _ := addZonePin(t, ctx, c.Peers[live[0]].Client())
		zones := zonesOf(allocationsOf(t, ctx, c, []string{cid})[cid], zoneOf)
		if len(zones) != zoneRF || zones[0] == zones[1] || slices.Contains(zones, emptiest) {
			t.Fatalf("added while %s is down, %s went to zones %v; want the two zones left", emptiest, cid, zones)
		}
	}
	t.Logf("pins added while %s is down go to the two zones left", emptiest)

	// The zone returns: its peers pin what was allocated to them meanwhile.
	start = time.Now()
	for _, i := range lost {
		if err := c.StartPeer(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	var windowHolders []int
	for _, a := range windowAllocs {
		windowHolders = append(windowHolders, indexOf(ids, a))
	}
	waitPinnedOn(t, ctx, c, window, windowHolders)
	t.Logf("zone %s back: the pin added during the loss is pinned on all of %v %s after the restart", emptiest, windowHolders, time.Since(start).Round(time.Millisecond))
}

// zoneConfig is the configuration as the local cluster reads it: cdk.json
// and the overrides.
func zoneConfig(t *testing.T, overrides map[string]string) config.Config {
	t.Helper()
	raw, err := config.LoadCdkJSONContext(filepath.Join(repoRoot, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range overrides {
		raw[k] = v
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// roomierStorage is a StorageMax up to a gigabyte above size: a clear
// margin over the few megabytes by which the peers' repositories differ,
// and over what the drill adds.
func roomierStorage(t *testing.T, size string) string {
	t.Helper()
	b, err := nodespec.StorageMaxBytes(size)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%dGB", b/1e9+1)
}

func everyPeer() []int {
	out := make([]int, zonePeers)
	for i := range out {
		out[i] = i
	}
	return out
}

// addZonePin adds random bytes with replication exactly zoneRF. The suite's
// record of added content (requireRetrievable) is the shared cluster's;
// these pins stay out of it.
func addZonePin(t *testing.T, ctx context.Context, c *localcluster.Client) (string, []byte) {
	t.Helper()
	data := make([]byte, zonePinSize)
	rand.Read(data)
	name := fmt.Sprintf("zone-%d.bin", time.Now().UnixNano())
	cid, err := c.Add(ctx, localcluster.AddParams{ReplicationMin: zoneRF, ReplicationMax: zoneRF, Name: name},
		localcluster.AddFile{Name: name, Data: data})
	if err != nil {
		t.Fatalf("adding through %s: %v", c.Base, err)
	}
	return cid, data
}

// allocationsOf reads the cids' allocations from the first running peer's
// copy of the pinset, waiting until it holds all of them.
func allocationsOf(t *testing.T, ctx context.Context, c *localcluster.Cluster, cids []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	waitFor(t, ctx, fmt.Sprintf("allocations of %d pins", len(cids)), func() error {
		var p *localcluster.Peer
		for _, q := range c.Peers {
			if q.ClusterRunning() {
				p = q
				break
			}
		}
		pins, err := p.Client().Allocations(ctx)
		if err != nil {
			return err
		}
		for _, pin := range pins {
			out[pin.Cid] = pin.Allocations
		}
		for _, cid := range cids {
			if _, ok := out[cid]; !ok {
				return fmt.Errorf("node%d's pinset lacks %s", p.Index, cid)
			}
		}
		return nil
	})
	return out
}

// zonesOf returns the sorted zones of the allocated peers.
func zonesOf(allocations []string, zoneOf func(string) string) []string {
	var zones []string
	for _, a := range allocations {
		zones = append(zones, zoneOf(a))
	}
	sort.Strings(zones)
	return zones
}

// readBack reads cid through the gateway until it answers with want, and
// returns how many reads failed first: the edge may still send a request
// to a dead peer until its next health check.
func readBack(t *testing.T, ctx context.Context, gateway, cid string, want []byte) int {
	t.Helper()
	deadline := time.Now().Add(readBackLimit)
	for failed := 0; ; failed++ {
		readCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		got, err := localcluster.GatewayGet(readCtx, gateway, cid)
		cancel()
		switch {
		case err == nil && bytes.Equal(got, want):
			return failed
		case err == nil:
			t.Fatalf("%s/ipfs/%s: %d bytes that differ from the %d added", gateway, cid, len(got), len(want))
		case time.Now().After(deadline):
			t.Fatalf("%s/ipfs/%s: unreadable %s after the zone's loss: %v", gateway, cid, readBackLimit, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// metricsExpiry polls peer via until it holds no metric of the lost peers
// and returns how long after since that was; -1 when ctx ends first.
func metricsExpiry(ctx context.Context, c *localcluster.Cluster, via int, ids peerIDs, lost []int, since time.Time) time.Duration {
	for {
		mp, err := c.Peer(via).Client().MetricPeers(ctx)
		held := err != nil
		for _, peers := range mp {
			for _, i := range lost {
				held = held || slices.Contains(peers, ids[i])
			}
		}
		if !held {
			return time.Since(since)
		}
		select {
		case <-ctx.Done():
			return -1
		case <-time.After(250 * time.Millisecond):
		}
	}
}
