package scenarios

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// Replication used unless a scenario needs otherwise: every peer.
const rf = 3

var everyone = []int{0, 1, 2}

// The three peers find each other with no bootstrap node: every peer is
// given every other peer's address by its entrypoint, they all start at
// once, each ends up seeing the two others, and each runs with the identity
// the generated seed gives its index.
func TestPeersFindEachOtherWithoutBootstrapNode(t *testing.T) {
	ctx := scenarioCtx(t, 5*time.Minute)
	c := cluster(t, ctx)
	ids := derivedIDs(t, c)

	// The cluster image's own tool derives the same IDs (what the
	// entrypoint gives each peer).
	cmd := exec.CommandContext(ctx, bins.ClusterIdentity, "peers", "-n", "3")
	cmd.Env = append(os.Environ(), "CLUSTER_IDENTITY_SEED="+c.Secrets.Seed)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cluster-identity peers: %v", err)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, []string{ids[0], ids[1], ids[2]}) {
		t.Fatalf("cluster-identity peers = %v, identity package = %v", got, ids)
	}

	for i, p := range c.Peers {
		id, err := p.Client().ID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id.ID != ids[i] {
			t.Errorf("node%d runs as %s, the seed gives index %d %s", i, id.ID, i, ids[i])
		}
		var ident struct {
			ID string `json:"id"`
		}
		b, err := os.ReadFile(filepath.Join(p.ClusterPath, "identity.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &ident); err != nil || ident.ID != ids[i] {
			t.Errorf("node%d identity.json holds %q (%v), want %s", i, ident.ID, err, ids[i])
		}
	}
	waitSees(t, ctx, c, everyone, everyone)
	requireRetrievable(t, ctx, c, everyone)
}

// The REST API refuses requests without credentials and with wrong ones and
// accepts the right ones; /health (the container and ALB health check)
// needs none.
func TestRESTAPIRequiresCredentials(t *testing.T) {
	ctx := scenarioCtx(t, 2*time.Minute)
	c := cluster(t, ctx)
	for i, p := range c.Peers {
		for _, tc := range []struct {
			name       string
			user, pass string
			path       string
			want       int
		}{
			{"no credentials", "", "", "/id", http.StatusUnauthorized},
			{"wrong password", c.Secrets.Username, c.Secrets.Password + "x", "/id", http.StatusUnauthorized},
			{"wrong user", "root", c.Secrets.Password, "/id", http.StatusUnauthorized},
			{"no credentials on peers", "", "", "/peers", http.StatusUnauthorized},
			{"no credentials on add", "", "", "/add", http.StatusUnauthorized},
			{"right credentials", c.Secrets.Username, c.Secrets.Password, "/id", http.StatusOK},
			{"health without credentials", "", "", "/health", http.StatusNoContent},
		} {
			cl := localcluster.NewClient(p.RESTURL(), tc.user, tc.pass)
			method := http.MethodGet
			if tc.path == "/add" {
				method = http.MethodPost
			}
			resp, err := cl.Do(ctx, method, tc.path, nil, "")
			if err != nil {
				t.Fatalf("node%d %s: %v", i, tc.name, err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("node%d %s %s: HTTP %d, want %d", i, tc.name, tc.path, resp.StatusCode, tc.want)
			}
		}
	}
	requireRetrievable(t, ctx, c, everyone)
}

// A file added through one peer's REST API is pinned on as many peers as
// the replication factor says and every peer's gateway serves it
// byte-identical.
func TestAddIsReplicatedAndServedByEveryGateway(t *testing.T) {
	ctx := scenarioCtx(t, 5*time.Minute)
	c := cluster(t, ctx)
	for via, size := range []int{1 << 20, 3<<20 + 12345, 700} {
		cid := addRandom(t, ctx, c, via, size, rf, rf)
		waitPinnedOn(t, ctx, c, cid, everyone)
		waitFor(t, ctx, "allocations known to another peer", func() error {
			st, err := c.Peer((via+1)%3).Client().Status(ctx, cid, false)
			if err != nil {
				return err
			}
			if len(st.Allocations) != rf || st.CountStatus("pinned") != rf {
				return fmt.Errorf("allocated to %d peers, pinned on %d, want %d", len(st.Allocations), st.CountStatus("pinned"), rf)
			}
			return nil
		})
		for i := range c.Peers {
			requireGateway(t, ctx, c, i, cid, allAdded()[cid].data)
		}
	}
	// A smaller replication factor is honoured too.
	cid := addRandom(t, ctx, c, 2, 256<<10, 2, 2)
	waitFor(t, ctx, "replication 2 honoured", func() error {
		st, err := c.Peer(0).Client().Status(ctx, cid, false)
		if err != nil {
			return err
		}
		if n := st.CountStatus("pinned"); n != 2 || len(st.Allocations) != 2 {
			return fmt.Errorf("pinned on %d, allocated to %d", n, len(st.Allocations))
		}
		return nil
	})
	waitConverged(t, ctx, c, everyone)
	requireRetrievable(t, ctx, c, everyone)
}

// kubo killed with SIGKILL and restarted from the same repo comes back on
// its own (IPFS_WAIT_REPO_LOCK, no lock file deleted), with the same
// identity and its pins intact; its cluster peer reattaches.
func TestKuboKilledRestartsFromSameRepo(t *testing.T) {
	ctx := scenarioCtx(t, 5*time.Minute)
	c := cluster(t, ctx)
	const n = 2 // not node0: no peer is special
	if kubo, _, err := c.PeerEnvironment(n); err != nil || kubo["IPFS_WAIT_REPO_LOCK"] == "" {
		t.Errorf("IPFS_WAIT_REPO_LOCK is not set for kubo (%v)", err)
	}
	cid := addRandom(t, ctx, c, 0, 2<<20, rf, rf)
	waitPinnedOn(t, ctx, c, cid, everyone)

	idBefore, err := c.Peer(n).Kubo().ID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pinsBefore, err := c.Peer(n).Kubo().RecursivePins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !pinsBefore[cid] {
		t.Fatalf("node%d kubo does not pin %s before the kill", n, cid)
	}
	if err := c.KillKubo(n); err != nil {
		t.Fatal(err)
	}
	if c.Peer(n).KuboRunning() {
		t.Fatal("kubo still running after SIGKILL")
	}
	if _, err := os.Stat(filepath.Join(c.Peer(n).IPFSPath, "repo.lock")); err == nil {
		t.Logf("stale repo.lock left by SIGKILL; restarting without removing it")
	}
	if err := c.StartKubo(ctx, n); err != nil {
		t.Fatalf("kubo did not come back from its repo: %v", err)
	}
	idAfter, err := c.Peer(n).Kubo().ID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if idAfter != idBefore {
		t.Errorf("kubo identity changed across the restart: %s -> %s", idBefore, idAfter)
	}
	pinsAfter, err := c.Peer(n).Kubo().RecursivePins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range pinsBefore {
		if !pinsAfter[k] {
			t.Errorf("pin %s lost by the restart", k)
		}
	}
	// The sidecar, which kept running, sees its kubo again.
	waitFor(t, ctx, "cluster peer reattached to the restarted kubo", func() error {
		id, err := c.Peer(n).Client().ID(ctx)
		if err != nil {
			return err
		}
		if id.IPFS.ID != idBefore {
			return fmt.Errorf("ipfs id %q (%s)", id.IPFS.ID, id.IPFS.Error)
		}
		return nil
	})
	waitConverged(t, ctx, c, everyone)
	requireRetrievable(t, ctx, c, everyone)
}

// A whole peer (kubo and cluster) killed, content added while it is down,
// peer restarted: it rejoins by itself and ends with the pinset of the
// others, holding what it is allocated.
func TestWholePeerKilledRejoinsAndConverges(t *testing.T) {
	ctx := scenarioCtx(t, 6*time.Minute)
	c := cluster(t, ctx)
	const n = 1
	before := addRandom(t, ctx, c, n, 1<<20, rf, rf)
	waitPinnedOn(t, ctx, c, before, everyone)

	if err := c.KillPeer(n); err != nil {
		t.Fatal(err)
	}
	rest := without(everyone, n)
	// The others notice (its metrics expire) before new content is
	// allocated: with replication 3 an add would now fail, so the content
	// added meanwhile asks for 2..3 copies and for a copy everywhere.
	waitSees(t, ctx, c, rest, rest)
	during := addRandom(t, ctx, c, 2, 2<<20, 2, rf)
	everywhere := addRandom(t, ctx, c, 0, 512<<10, -1, -1)
	waitPinnedOn(t, ctx, c, during, rest)
	// Only the receiving peer is awaited here. ipfs-cluster v1.1.6 ships
	// boxo v0.39.0, whose bitswap drops a connected peer after one failed
	// send until a new connection opens (ipfs/boxo#1163, fixed by #1164):
	// while a peer is down, a survivor can then fail to fetch the other
	// survivor's CRDT delta (log: "error processing new head: ... context
	// deadline exceeded") and misses that pin until a connection is
	// renewed — which the restart below does. The end state is asserted on
	// every peer after the restart. See README "Known issues".
	waitPinnedOn(t, ctx, c, everywhere, []int{0})
	requireRetrievable(t, ctx, c, rest)

	if err := c.StartPeer(ctx, n); err != nil {
		t.Fatal(err)
	}
	// Its own state survived the SIGKILL (checked before the others'
	// rebroadcast could refill it): a datastore that keeps recent writes
	// in process memory comes back empty here.
	pins, err := c.Peer(n).Client().Allocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(pins, func(p localcluster.Pin) bool { return p.Cid == before }) {
		t.Errorf("node%d restarted without %s in its pinset (%d pins): its state did not survive SIGKILL", n, before, len(pins))
	}
	waitSees(t, ctx, c, everyone, everyone)
	waitConverged(t, ctx, c, everyone)
	waitPinnedOn(t, ctx, c, everywhere, everyone)
	waitPinnedOn(t, ctx, c, before, everyone)
	requireGateway(t, ctx, c, n, everywhere, allAdded()[everywhere].data)
	requireRetrievable(t, ctx, c, everyone)
}

// Two of three peers down (one stopped, one killed): the remaining one still
// serves everything it holds and still takes writes; after both return,
// nothing is lost.
func TestTwoOfThreeDown(t *testing.T) {
	ctx := scenarioCtx(t, 6*time.Minute)
	c := cluster(t, ctx)
	const survivor = 1
	if err := c.StopPeer(0); err != nil {
		t.Fatal(err)
	}
	if err := c.KillPeer(2); err != nil {
		t.Fatal(err)
	}
	// It serves everything it holds: all it reports PINNED, and at least
	// whatever was replicated to every peer.
	held := 0
	for cid, ct := range allAdded() {
		st, err := localStatus(ctx, c, survivor, cid)
		if err != nil {
			t.Fatal(err)
		}
		everywhere := ct.rfMin == rf || ct.rfMin == -1
		if st != "pinned" {
			if everywhere {
				t.Fatalf("%s was replicated to every peer but the survivor reports %s", cid, st)
			}
			continue
		}
		held++
		requireGateway(t, ctx, c, survivor, cid, ct.data)
	}
	t.Logf("the survivor serves the %d of %d CIDs it holds", held, len(allAdded()))
	pins, err := c.Peer(survivor).Client().Allocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) < len(allAdded()) {
		t.Errorf("the survivor lists %d pins, %d were added", len(pins), len(allAdded()))
	}
	waitSees(t, ctx, c, []int{survivor}, []int{survivor})
	alone := addRandom(t, ctx, c, survivor, 1<<20, 1, rf)
	waitPinnedOn(t, ctx, c, alone, []int{survivor})

	if err := c.Start(ctx); err != nil { // both return
		t.Fatal(err)
	}
	waitSees(t, ctx, c, everyone, everyone)
	waitConverged(t, ctx, c, everyone)
	requireRetrievable(t, ctx, c, everyone)
}

// The peer that was used to bootstrap is not special: every peer can
// restart alone, and the others rejoin each other while node0 is down.
func TestAnyPeerCanRestart(t *testing.T) {
	ctx := scenarioCtx(t, 8*time.Minute)
	c := cluster(t, ctx)
	ids := derivedIDs(t, c)
	for _, n := range []int{0, 2, 1} {
		if err := c.StopPeer(n); err != nil {
			t.Fatal(err)
		}
		requireRetrievable(t, ctx, c, without(everyone, n))
		if err := c.StartPeer(ctx, n); err != nil {
			t.Fatal(err)
		}
		id, err := c.Peer(n).Client().ID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id.ID != ids[n] {
			t.Errorf("node%d came back as %s, want %s", n, id.ID, ids[n])
		}
		waitSees(t, ctx, c, everyone, everyone)
	}

	// node0 down for good; node1 is killed and restarts: it must find
	// node2 without any help from node0.
	if err := c.StopPeer(0); err != nil {
		t.Fatal(err)
	}
	if err := c.KillPeer(1); err != nil {
		t.Fatal(err)
	}
	if err := c.StartPeer(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitSees(t, ctx, c, []int{1, 2}, []int{1, 2})
	waitMetricsFrom(t, ctx, c, 1, []int{1, 2})
	cid := addRandom(t, ctx, c, 1, 1<<20, 2, rf)
	waitPinnedOn(t, ctx, c, cid, []int{1, 2})
	if err := c.StartPeer(ctx, 0); err != nil {
		t.Fatal(err)
	}
	waitSees(t, ctx, c, everyone, everyone)
	waitConverged(t, ctx, c, everyone)
	requireRetrievable(t, ctx, c, everyone)
}
