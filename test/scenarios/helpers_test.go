package scenarios

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/docker/ipfs-cluster/identity"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// content is something a scenario added; every one of them must stay
// retrievable until the end of the suite.
type content struct {
	data         []byte
	rfMin, rfMax int // -1/-1: pinned everywhere
	by           string
}

var (
	addedMu sync.Mutex
	added   = map[string]*content{}
)

func allAdded() map[string]*content {
	addedMu.Lock()
	defer addedMu.Unlock()
	out := make(map[string]*content, len(added))
	for k, v := range added {
		out[k] = v
	}
	return out
}

// addRandom adds size random bytes through peer via's REST API and records
// them.
func addRandom(t *testing.T, ctx context.Context, c *localcluster.Cluster, via, size, rfMin, rfMax int) string {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	name := fmt.Sprintf("%s-%d.bin", t.Name(), time.Now().UnixNano())
	cid, err := c.Peer(via).Client().Add(ctx, localcluster.AddParams{
		ReplicationMin: rfMin, ReplicationMax: rfMax, Name: name,
	}, localcluster.AddFile{Name: name, Data: data})
	if err != nil {
		t.Fatalf("adding %d bytes through node%d (rf %d..%d): %v", size, via, rfMin, rfMax, err)
	}
	addedMu.Lock()
	added[cid] = &content{data: data, rfMin: rfMin, rfMax: rfMax, by: t.Name()}
	addedMu.Unlock()
	t.Logf("added %s (%d bytes) through node%d with replication %d..%d", cid, size, via, rfMin, rfMax)
	return cid
}

// waitFor polls f until it returns nil; the scenario fails with f's last
// error when ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, f func() error) {
	t.Helper()
	start := time.Now()
	var last error
	for {
		if last = f(); last == nil {
			t.Logf("%s: after %s", what, time.Since(start).Round(10*time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached after %s: %v", what, time.Since(start).Round(time.Second), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// derivedIDs are the peer IDs the stack's generated seed gives peers
// 0..n-1 (package identity, which the cluster image's entrypoint uses).
// peerIDs are the peers' IDs by index (a second region's from 100 on).
type peerIDs map[int]string

func derivedIDs(t *testing.T, c *localcluster.Cluster) peerIDs {
	t.Helper()
	var indices []int
	for _, p := range c.Peers {
		indices = append(indices, p.Index)
	}
	ids, err := identity.PeerIDsOf(c.Secrets.Seed, indices)
	if err != nil {
		t.Fatal(err)
	}
	out := peerIDs{}
	for k, id := range ids {
		out[indices[k]] = id.String()
	}
	return out
}

// indexOf is the index of the peer with ID id, -1 for none.
func indexOf(ids peerIDs, id string) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// seen returns the indexes of the peers that peer i lists in `peers ls`
// without error.
func seen(ctx context.Context, c *localcluster.Cluster, ids peerIDs, i int) ([]int, error) {
	peers, err := c.Peer(i).Client().Peers(ctx)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, p := range peers {
		if p.Error != "" {
			continue
		}
		j := indexOf(ids, p.ID)
		if j < 0 {
			return nil, fmt.Errorf("node%d lists a peer that is not one of this cluster's: %s", i, p.ID)
		}
		out = append(out, j)
	}
	sort.Ints(out)
	return out, nil
}

// waitSees waits until each of the given peers lists exactly want.
func waitSees(t *testing.T, ctx context.Context, c *localcluster.Cluster, who []int, want []int) {
	t.Helper()
	ids := derivedIDs(t, c)
	for _, i := range who {
		waitFor(t, ctx, fmt.Sprintf("node%d sees exactly peers %v", i, want), func() error {
			got, err := seen(ctx, c, ids, i)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("sees %v", got)
			}
			return nil
		})
	}
}

func localStatus(ctx context.Context, c *localcluster.Cluster, i int, cid string) (string, error) {
	st, err := c.Peer(i).Client().Status(ctx, cid, true)
	if err != nil {
		return "", err
	}
	for _, p := range st.PeerMap {
		return p.Status, nil
	}
	return "", fmt.Errorf("node%d: empty status for %s", i, cid)
}

// waitPinnedOn waits until each given peer reports cid PINNED.
func waitPinnedOn(t *testing.T, ctx context.Context, c *localcluster.Cluster, cid string, peers []int) {
	t.Helper()
	waitFor(t, ctx, fmt.Sprintf("%s pinned on %v", cid, peers), func() error {
		for _, i := range peers {
			st, err := localStatus(ctx, c, i, cid)
			if err != nil {
				return err
			}
			if st != "pinned" {
				return fmt.Errorf("node%d: %s", i, st)
			}
		}
		return nil
	})
}

// waitConverged waits until every running peer holds the whole pinset in
// its shared state, and every pin is PINNED on each running peer that should
// hold it (its allocations, or every peer for a pin-everywhere).
func waitConverged(t *testing.T, ctx context.Context, c *localcluster.Cluster, running []int) {
	t.Helper()
	ids := derivedIDs(t, c)
	all := allAdded()
	waitFor(t, ctx, fmt.Sprintf("pinsets of %v converged on %d pins", running, len(all)), func() error {
		var ref map[string]localcluster.Pin
		for _, i := range running {
			pins, err := c.Peer(i).Client().Allocations(ctx)
			if err != nil {
				return fmt.Errorf("node%d: %w", i, err)
			}
			m := map[string]localcluster.Pin{}
			for _, p := range pins {
				m[p.Cid] = p
			}
			for cid := range all {
				if _, ok := m[cid]; !ok {
					return fmt.Errorf("node%d's pinset lacks %s", i, cid)
				}
			}
			if ref == nil {
				ref = m
			} else if len(m) != len(ref) {
				return fmt.Errorf("pinsets differ in size: %d and %d", len(ref), len(m))
			}
		}
		for cid, ct := range all {
			pin := ref[cid]
			holders := running
			if ct.rfMin > 0 {
				if len(pin.Allocations) < ct.rfMin {
					return fmt.Errorf("%s allocated to %d peers, replication min %d", cid, len(pin.Allocations), ct.rfMin)
				}
				holders = nil
				for _, a := range pin.Allocations {
					if j := indexOf(ids, a); slices.Contains(running, j) {
						holders = append(holders, j)
					}
				}
			}
			for _, i := range holders {
				st, err := localStatus(ctx, c, i, cid)
				if err != nil {
					return err
				}
				if st != "pinned" {
					return fmt.Errorf("%s on node%d: %s", cid, i, st)
				}
			}
		}
		return nil
	})
}

// requireRetrievable checks the invariant every scenario ends with: every
// CID ever added is served byte-identical by the gateway of every running
// peer that holds it, and at least one running peer holds it.
func requireRetrievable(t *testing.T, ctx context.Context, c *localcluster.Cluster, running []int) {
	t.Helper()
	requireRetrievableFrom(t, ctx, c, running, allAdded())
}

// requireRetrievableFrom is requireRetrievable for the given contents (a
// scenario's own cluster keeps its own).
func requireRetrievableFrom(t *testing.T, ctx context.Context, c *localcluster.Cluster, running []int, contents map[string]*content) {
	t.Helper()
	for cid, ct := range contents {
		holders := 0
		for _, i := range running {
			st, err := localStatus(ctx, c, i, cid)
			if err != nil {
				t.Fatalf("status of %s on node%d: %v", cid, i, err)
			}
			if st != "pinned" {
				continue
			}
			holders++
			requireGateway(t, ctx, c, i, cid, ct.data)
		}
		if holders == 0 {
			t.Fatalf("%s (added by %s) is held by none of the running peers %v", cid, ct.by, running)
		}
	}
}

func requireGateway(t *testing.T, ctx context.Context, c *localcluster.Cluster, i int, cid string, want []byte) {
	t.Helper()
	got, err := localcluster.GatewayGet(ctx, c.Peer(i).GatewayURL(), cid)
	if err != nil {
		t.Fatalf("GET %s/ipfs/%s: %v", c.Peer(i).GatewayURL(), cid, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("node%d's gateway serves %d bytes for %s that differ from the %d added", i, len(got), cid, len(want))
	}
}

func without(all []int, drop ...int) []int {
	var out []int
	for _, x := range all {
		if !slices.Contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

// waitMetricsFrom waits until peer via holds valid allocator metrics from
// each of peers: a peer that just restarted learns the others' metrics only
// as they publish them (every monitor ping interval), and cannot allocate
// to them before.
func waitMetricsFrom(t *testing.T, ctx context.Context, c *localcluster.Cluster, via int, peers []int) {
	t.Helper()
	ids := derivedIDs(t, c)
	waitFor(t, ctx, fmt.Sprintf("node%d holds metrics of %v", via, peers), func() error {
		mp, err := c.Peer(via).Client().MetricPeers(ctx)
		if err != nil {
			return err
		}
		if len(mp) == 0 {
			return fmt.Errorf("no metrics")
		}
		for name, got := range mp {
			for _, i := range peers {
				if !slices.Contains(got, ids[i]) {
					return fmt.Errorf("no valid %s metric from node%d", name, i)
				}
			}
		}
		return nil
	})
}
