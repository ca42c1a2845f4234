package scenarios

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/localedge"
)

// rotationCacheTTL stands in for the deployed authenticator's 5-minute
// credentials cache: the rehearsal keeps its proportions (the cache outlives
// one peer's restart) at a scale a test can wait for.
const rotationCacheTTL = 8 * time.Second

// probe is one request through the edge with one password.
type probe struct {
	at     time.Duration // since the rotation
	status int
}

// Runbook "Rotate the REST API credentials", rehearsed: the secret gets a
// new password (localcluster's RotatePassword plays put-secret-value), then
// the peers restart one at a time (the runbook's force-new-deployment loop).
// Two clients call the REST API through the local edge all along, one with
// the old password and one with the new. What the runbook promises them:
//   - the old password keeps working until the first peer restarts (and no
//     longer than the edge's cache time);
//   - the new password works everywhere once every peer has restarted and
//     the edge's cache has expired;
//   - in between, either fails with 401 depending on which peer (and which
//     edge cache) answers, never with anything else.
func TestRunbookRotateCredentials(t *testing.T) {
	ctx := scenarioCtx(t, 10*time.Minute)
	c := cluster(t, ctx)
	opt := c.EdgeOptions()
	host := c.EdgeAddress() + ":0"
	opt.GatewayListen, opt.APIListen = host, host
	opt.CredentialsCacheTTL = rotationCacheTTL
	opt.Log = testLog{}
	edge := startEdgeWith(t, ctx, opt)

	oldSecrets := c.Secrets
	// The edge has read the file once (a request makes it load): its cache
	// expires at most rotationCacheTTL after the rotation.
	if s := status(ctx, edge.APIURL(), oldSecrets.Username, oldSecrets.Password); s != http.StatusOK {
		t.Fatalf("before the rotation: GET /id through the edge answered %d", s)
	}
	if err := c.RotatePassword(); err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	newSecrets, err := localcluster.ReadSecrets(c.SecretFile)
	if err != nil {
		t.Fatal(err)
	}
	if newSecrets.Password == oldSecrets.Password || newSecrets.Username != oldSecrets.Username || newSecrets.Seed != oldSecrets.Seed {
		t.Fatal("RotatePassword must change the password only")
	}

	var mu sync.Mutex
	probes := map[string][]probe{}
	pollCtx, stopPolling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for name, password := range map[string]string{"old": oldSecrets.Password, "new": newSecrets.Password} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pollCtx.Err() == nil {
				s := status(pollCtx, edge.APIURL(), oldSecrets.Username, password)
				mu.Lock()
				probes[name] = append(probes[name], probe{time.Since(rotated), s})
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}

	// A moment between the new secret and the first restart, as between
	// put-secret-value and the first force-new-deployment: nothing may fail.
	time.Sleep(2 * time.Second)
	var firstRestart, lastRestarted time.Duration
	for i := range c.Peers {
		if i == 0 {
			firstRestart = time.Since(rotated)
		}
		if err := c.StopPeer(i); err != nil {
			t.Fatal(err)
		}
		if err := c.StartPeer(ctx, i); err != nil {
			t.Fatal(err)
		}
		lastRestarted = time.Since(rotated)
	}
	// Past both bounds, plus the edge's health interval for the last peer
	// to be routed to again.
	settled := max(lastRestarted, rotationCacheTTL) + 2*localedge.DefaultHealthInterval
	time.Sleep(settled - time.Since(rotated) + 3*time.Second)
	stopPolling()
	wg.Wait()

	for name, ps := range probes {
		var ok, refused int
		var firstFail, lastFail, firstOK, lastOK time.Duration = -1, -1, -1, -1
		for _, p := range ps {
			switch p.status {
			case http.StatusOK:
				ok++
				lastOK = p.at
				if firstOK < 0 {
					firstOK = p.at
				}
			case http.StatusUnauthorized:
				refused++
				lastFail = p.at
				if firstFail < 0 {
					firstFail = p.at
				}
			case 0: // the poll was cancelled at the end
			default:
				t.Errorf("%s password: %d at %s: a rotation may only cause 401s", name, p.status, p.at.Round(time.Millisecond))
			}
		}
		t.Logf("%s password: %d requests, %d ok, %d refused; first refusal %s, last refusal %s, first ok %s, last ok %s (secret changed at 0, first peer restart %s, last peer back %s, edge cache %s)",
			name, ok+refused, ok, refused, round(firstFail), round(lastFail), round(firstOK), round(lastOK),
			round(firstRestart), round(lastRestarted), rotationCacheTTL)
		switch name {
		case "old":
			if firstFail >= 0 && firstFail < min(firstRestart, rotationCacheTTL) {
				t.Errorf("old password refused at %s, before the first restart (%s) and the cache time", round(firstFail), round(firstRestart))
			}
			if lastOK > settled {
				t.Errorf("old password still accepted at %s, after every peer restarted and the cache expired (%s)", round(lastOK), round(settled))
			}
		case "new":
			if lastFail > settled {
				t.Errorf("new password still refused at %s, after every peer restarted and the cache expired (%s)", round(lastFail), round(settled))
			}
			if ok == 0 {
				t.Error("the new password never worked")
			}
		}
	}
	// The cluster's own clients follow the secret.
	if _, err := c.Peer(0).Client().ID(ctx); err != nil {
		t.Fatalf("a client with the rotated credentials: %v", err)
	}
	requireRetrievable(t, ctx, c, everyone)
}

func round(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(100 * time.Millisecond).String()
}

// status is the HTTP status of GET /id through base with these
// credentials; 0 when no answer came.
func status(ctx context.Context, base, user, password string) int {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := localcluster.NewClient(base, user, password).Do(rctx, http.MethodGet, "/id", nil, "")
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// Runbook "Scale out", rehearsed on a cluster of its own: three peers with
// pins, then nodeCount=6 as the deployment applies it (the three new
// services start, the existing peers restart one at a time because their
// peer lists changed). The old pins stay where they are and stay
// retrievable; new pins reach the new peers, each pin's copies in distinct
// zones (peer i is in zone i mod 3).
func TestRunbookScaleOut(t *testing.T) {
	ctx := scenarioCtx(t, 15*time.Minute)
	stopShared(t)
	root := t.TempDir()
	open := func(nodes int) *localcluster.Cluster {
		return ownCluster(t, root, func(o *localcluster.Options) {
			o.Context = map[string]string{"nodeCount": strconv.Itoa(nodes)}
		})
	}
	three := open(3)
	if err := three.Start(ctx); err != nil {
		t.Fatal(err)
	}
	contents := ownContents{}
	var before []string
	for range 6 {
		before = append(before, contents.add(t, ctx, three, 0, 2))
	}

	start := time.Now()
	six := open(6)
	for i := 3; i < 6; i++ {
		if err := six.StartPeer(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := six.StopPeer(i); err != nil {
			t.Fatal(err)
		}
		if err := six.StartPeer(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	everyPeer := []int{0, 1, 2, 3, 4, 5}
	waitSees(t, ctx, six, everyPeer, everyPeer)
	waitMetricsFrom(t, ctx, six, 0, everyPeer)
	t.Logf("scale-out 3 -> 6 peers: %s until every peer sees the others and their metrics", time.Since(start).Round(100*time.Millisecond))

	ids := derivedIDs(t, six)
	onNew := 0
	const newPins = 12
	for range newPins {
		cid := contents.add(t, ctx, six, 0, 2)
		pin := allocationOf(t, ctx, six, cid)
		zones := map[int]bool{}
		for _, a := range pin.Allocations {
			i := indexOf(ids, a)
			if i >= 3 {
				onNew++
			}
			zones[i%3] = true
		}
		if len(zones) != len(pin.Allocations) {
			t.Errorf("%s: allocations %v share a zone", cid, pin.Allocations)
		}
	}
	t.Logf("new pins: %d of %d copies on the new peers", onNew, 2*newPins)
	if onNew == 0 {
		t.Error("no new pin was allocated to a new peer")
	}
	// The restarted peers take their pins up again from their state, and
	// the new ones pin what was just added (queued, then pinned), before
	// they report them pinned.
	for cid := range contents {
		alloc := allocatedPeers(t, ctx, six, ids, cid)
		if slices.Contains(before, cid) && slices.ContainsFunc(alloc, func(i int) bool { return i >= 3 }) {
			t.Errorf("%s moved to %v: scale-out must not move existing pins", cid, alloc)
		}
		waitPinnedOn(t, ctx, six, cid, alloc)
	}
	requireRetrievableFrom(t, ctx, six, everyPeer, contents)
}

// ownContents are what a scenario added to a cluster of its own (the
// shared cluster's invariant, allAdded, does not hold them).
type ownContents map[string]*content

// add adds random bytes through peer via with replication rf and records
// them.
func (o ownContents) add(t *testing.T, ctx context.Context, c *localcluster.Cluster, via, rf int) string {
	t.Helper()
	data := make([]byte, 64<<10)
	rand.Read(data)
	cid, err := c.Peer(via).Client().Add(ctx, localcluster.AddParams{ReplicationMin: rf, ReplicationMax: rf, Name: t.Name()},
		localcluster.AddFile{Name: "data.bin", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	o[cid] = &content{data: data, rfMin: rf, rfMax: rf, by: t.Name()}
	return cid
}

// allocatedPeers are the indexes of the peers cid is allocated to (ids:
// derivedIDs).
func allocatedPeers(t *testing.T, ctx context.Context, c *localcluster.Cluster, ids peerIDs, cid string) []int {
	t.Helper()
	var out []int
	for _, a := range allocationOf(t, ctx, c, cid).Allocations {
		out = append(out, indexOf(ids, a))
	}
	return out
}

// allocationOf is cid's entry of the shared pinset, as peer 0 holds it.
func allocationOf(t *testing.T, ctx context.Context, c *localcluster.Cluster, cid string) localcluster.Pin {
	t.Helper()
	pins, err := c.Peer(0).Client().Allocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pins {
		if p.Cid == cid {
			return p
		}
	}
	t.Fatalf("%s is not in the pinset", cid)
	return localcluster.Pin{}
}

// ownCluster opens a cluster of a scenario's own in root, with what every
// scenario cluster has (the suite's binaries and log, the shared cluster's
// stop grace) and edit's changes; it stops with the test.
func ownCluster(t *testing.T, root string, edit func(*localcluster.Options)) *localcluster.Cluster {
	t.Helper()
	opt := localcluster.Options{Root: root, RepoRoot: repoRoot, Bin: bins, Log: testLog{}, StopGrace: 20 * time.Second}
	if edit != nil {
		edit(&opt)
	}
	c, err := localcluster.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

// stopShared stops the shared cluster, whose addresses a scenario with a
// cluster of its own needs; the next scenario starts it again.
func stopShared(t *testing.T) {
	t.Helper()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// Runbook "Upgrade kubo or ipfs-cluster", rehearsed for kubo on a cluster
// of its own: the peers start on the release before the pinned one
// (test/binaries/kubo-previous), take pins, then roll onto the pinned
// release one at a time from the same repositories, as the services do
// after the FROM line changes. Every pin stays served by the peers that hold
// it after each step.
func TestRunbookUpgradeKubo(t *testing.T) {
	ctx := scenarioCtx(t, 20*time.Minute)
	previous, previousVersion, err := localcluster.EnsurePreviousKubo(ctx, repoRoot, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	stopShared(t)
	root := t.TempDir()
	open := func(b *localcluster.Binaries) *localcluster.Cluster {
		return ownCluster(t, root, func(o *localcluster.Options) { o.Bin = b })
	}
	oldBins := *bins
	oldBins.IPFS = previous
	before := open(&oldBins)
	if err := before.Start(ctx); err != nil {
		t.Fatal(err)
	}
	requireKuboVersions(t, ctx, before, everyone, previousVersion)
	contents := ownContents{}
	for i := range 6 {
		contents.add(t, ctx, before, i%3, 2)
	}

	after := open(bins)
	for i := range after.Peers {
		start := time.Now()
		if err := after.StopPeer(i); err != nil {
			t.Fatal(err)
		}
		if err := after.StartPeer(ctx, i); err != nil {
			t.Fatal(err)
		}
		requireKuboVersions(t, ctx, after, []int{i}, bins.Versions.Kubo)
		t.Logf("node%d: kubo %s -> %s in %s", i, previousVersion, bins.Versions.Kubo, time.Since(start).Round(100*time.Millisecond))
		requireRetrievableFrom(t, ctx, after, everyone, contents)
	}
}

// requireKuboVersions checks the kubo release each given peer runs.
func requireKuboVersions(t *testing.T, ctx context.Context, c *localcluster.Cluster, peers []int, want string) {
	t.Helper()
	for _, i := range peers {
		var v struct{ Version string }
		if err := c.Peer(i).Kubo().Call(ctx, "version", &v); err != nil {
			t.Fatalf("node%d: kubo version: %v", i, err)
		}
		if "v"+v.Version != want {
			t.Fatalf("node%d runs kubo %s, want %s", i, v.Version, want)
		}
	}
}

// Runbook "Scale in without losing replicas", rehearsed on a cluster of its
// own: four peers with pins of replication 2, the highest peer leaves. Its
// steps, in order: stop it and let its metrics expire (step 2); re-pin
// every pin allocated to it with its own factors, after which none is and
// each is pinned on its new allocations (step 3); the smaller nodeCount, the
// remaining peers restarting one at a time without its address (step 4).
// Every pin is then served by the three peers left.
func TestRunbookScaleIn(t *testing.T) {
	ctx := scenarioCtx(t, 15*time.Minute)
	stopShared(t)
	root := t.TempDir()
	open := func(nodes int) *localcluster.Cluster {
		return ownCluster(t, root, func(o *localcluster.Options) {
			o.Context = map[string]string{"nodeCount": strconv.Itoa(nodes)}
		})
	}
	four := open(4)
	if err := four.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const leaving = 3
	ids := derivedIDs(t, four)
	contents := ownContents{}
	for range 6 {
		contents.add(t, ctx, four, 0, 2)
	}
	// With equal free space the allocator prefers node0 to node3 in their
	// shared zone, so two pins are given node3 by hand (what
	// `ctl pin add --allocations` does): the drain must move them.
	onLeaving := 0
	for cid := range contents {
		if onLeaving == 2 {
			break
		}
		// A pin keeps its live allocations when pinned again: removed
		// first (kubo keeps the blocks: no automatic GC), then pinned to
		// node3 and node1.
		for _, req := range []struct{ method, path string }{
			{http.MethodDelete, "/pins/" + cid},
			{http.MethodPost, fmt.Sprintf("/pins/%s?replication-min=2&replication-max=2&user-allocations=%s,%s", cid, ids[leaving], ids[1])},
		} {
			resp, err := four.Peers[0].Client().Do(ctx, req.method, req.path, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %s", req.method, req.path, resp.Status)
			}
		}
		waitPinnedOn(t, ctx, four, cid, []int{leaving, 1})
		onLeaving++
	}

	// Step 2.
	start := time.Now()
	if err := four.StopPeer(leaving); err != nil {
		t.Fatal(err)
	}
	remaining := []int{0, 1, 2}
	waitFor(t, ctx, fmt.Sprintf("node%d's metrics expired on node0", leaving), func() error {
		mp, err := four.Peers[0].Client().MetricPeers(ctx)
		if err != nil {
			return err
		}
		for name, peers := range mp {
			if slices.Contains(peers, ids[leaving]) {
				return fmt.Errorf("node0 still holds a valid %s metric of node%d", name, leaving)
			}
		}
		return nil
	})
	// Step 3: what `ctl pin add --rmin --rmax <cid>` sends.
	client := four.Peers[0].Client()
	pins, err := client.Allocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	repinned := 0
	for _, p := range pins {
		if !slices.Contains(p.Allocations, ids[leaving]) {
			continue
		}
		resp, err := client.Do(ctx, http.MethodPost, fmt.Sprintf("/pins/%s?replication-min=%d&replication-max=%d", p.Cid, p.ReplicationFactorMin, p.ReplicationFactorMax), nil, "")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("re-pinning %s: %s", p.Cid, resp.Status)
		}
		repinned++
	}
	if repinned < onLeaving {
		t.Fatalf("re-pinned %d pins, but at least %d were allocated to node%d", repinned, onLeaving, leaving)
	}
	for cid := range contents {
		var alloc []int
		waitFor(t, ctx, cid+" allocated to the remaining peers only", func() error {
			pin := allocationOf(t, ctx, four, cid)
			alloc = nil
			for _, a := range pin.Allocations {
				alloc = append(alloc, indexOf(ids, a))
			}
			if slices.Contains(alloc, leaving) || len(alloc) < 2 {
				return fmt.Errorf("allocated to %v", alloc)
			}
			return nil
		})
		waitPinnedOn(t, ctx, four, cid, alloc)
	}
	t.Logf("node%d drained: %d of %d pins re-pinned, every pin on two of the remaining peers, %s after it stopped",
		leaving, repinned, len(contents), time.Since(start).Round(100*time.Millisecond))

	// Step 4.
	three := open(3)
	for _, i := range remaining {
		if err := three.StopPeer(i); err != nil {
			t.Fatal(err)
		}
		if err := three.StartPeer(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	waitSees(t, ctx, three, remaining, remaining)
	for cid := range contents {
		waitPinnedOn(t, ctx, three, cid, allocatedPeers(t, ctx, three, ids, cid))
	}
	requireRetrievableFrom(t, ctx, three, remaining, contents)
}
