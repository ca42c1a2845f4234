package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// How long a refused request must leave the pinset untouched: the
// upstream's own mishandled requests show on every peer within a second or
// two (measured below and logged).
const edgeHoldWindow = 10 * time.Second

// ipfs-cluster v1.1.6 answers `DELETE /pins/<cid>?replication-min=abc`
// with 400 and unpins the CID cluster-wide anyway, and the matching POST
// with 400 and pins anyway (DESIGN.md §10). Sent straight to a peer, both
// happen here; sent through the local edge, which runs the real Lambda@Edge
// viewer-request handler in front of the three peers, the same requests get
// the edge's 400 and the pinset stays as it was on every peer. A good
// request through the edge still reaches the cluster.
func TestEdgeRefusesWhatTheClusterMishandles(t *testing.T) {
	ctx := scenarioCtx(t, 10*time.Minute)
	c := cluster(t, ctx)

	edge := startLocalEdge(t, ctx, c, false)
	direct := c.Peer(0).Client()
	viaEdge := localcluster.NewClient(edge.APIURL(), c.Secrets.Username, c.Secrets.Password)

	// Content of its own, kept out of the suite's record of added CIDs:
	// this scenario unpins it.
	data := make([]byte, 64<<10)
	rand.Read(data)
	name := fmt.Sprintf("%s-%d.bin", t.Name(), time.Now().UnixNano())
	cid, err := direct.Add(ctx, localcluster.AddParams{ReplicationMin: rf, ReplicationMax: rf, Name: name},
		localcluster.AddFile{Name: name, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	waitPinnedOn(t, ctx, c, cid, everyone)

	// Upstream, DELETE: 400, and unpinned everywhere.
	status, body := send(t, ctx, direct, http.MethodDelete, "/pins/"+cid+"?replication-min=abc")
	if status != http.StatusBadRequest || !strings.Contains(body, "replication-min") {
		t.Fatalf("straight to node0: %d %s; upstream v1.1.6 answers 400 about replication-min", status, body)
	}
	start := time.Now()
	waitFor(t, ctx, "the 400 DELETE straight to node0 unpinned "+cid+" on every peer", func() error {
		return inPinset(ctx, c, cid, false)
	})
	t.Logf("upstream behaviour confirmed: DELETE ...?replication-min=abc answered 400 and unpinned cluster-wide within %s",
		time.Since(start).Round(10*time.Millisecond))

	// Pinned again, then the same DELETE through the edge.
	if status, body := send(t, ctx, direct, http.MethodPost, fmt.Sprintf("/pins/%s?replication-min=%d&replication-max=%d", cid, rf, rf)); status != http.StatusOK {
		t.Fatalf("re-pinning: %d %s", status, body)
	}
	waitPinnedOn(t, ctx, c, cid, everyone)
	requireEdgeRefusal(t, ctx, viaEdge, http.MethodDelete, "/pins/"+cid+"?replication-min=abc")
	holdPinset(t, ctx, c, cid, true)
	for _, i := range everyone {
		if st, err := localStatus(ctx, c, i, cid); err != nil || st != "pinned" {
			t.Fatalf("after the refused DELETE, %s on node%d: %q %v", cid, i, st, err)
		}
	}

	// The edge is no wall: a good DELETE through it unpins.
	if status, body := send(t, ctx, viaEdge, http.MethodDelete, "/pins/"+cid); status != http.StatusOK {
		t.Fatalf("a good DELETE through the edge: %d %s", status, body)
	}
	waitFor(t, ctx, "the good DELETE through the edge unpinned "+cid, func() error { return inPinset(ctx, c, cid, false) })

	// POST: through the edge, refused and not pinned; straight to a peer,
	// 400 and pinned anyway.
	requireEdgeRefusal(t, ctx, viaEdge, http.MethodPost, "/pins/"+cid+"?replication-min=abc")
	holdPinset(t, ctx, c, cid, false)
	status, body = send(t, ctx, direct, http.MethodPost, "/pins/"+cid+"?replication-min=abc")
	if status != http.StatusBadRequest {
		t.Fatalf("POST straight to node0: %d %s; upstream v1.1.6 answers 400", status, body)
	}
	start = time.Now()
	waitFor(t, ctx, "the 400 POST straight to node0 pinned "+cid+" anyway", func() error { return inPinset(ctx, c, cid, true) })
	t.Logf("upstream behaviour confirmed: POST ...?replication-min=abc answered 400 and pinned within %s",
		time.Since(start).Round(10*time.Millisecond))

	// The official client's requests all pass the edge's checks.
	ctl := func(args ...string) string {
		t.Helper()
		u, err := url.Parse(edge.APIURL())
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, bins.ClusterCtl, append([]string{"--force-http", "--host", "/ip4/" + u.Hostname() + "/tcp/" + u.Port()}, args...)...)
		cmd.Env = append(os.Environ(), "CLUSTER_CREDENTIALS="+c.Secrets.Username+":"+c.Secrets.Password)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ipfs-cluster-ctl %s through the edge: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ctl("id")
	ctl("peers", "ls")
	ctl("pin", "add", "--name", "edge-ctl", "--replication-min", "2", "--replication-max", "3", "--metadata", "owner=scenario",
		"--expire-in", "24h", "--mode", "recursive", cid)
	ctl("pin", "ls", cid)
	ctl("pin", "ls")
	ctl("status", cid)
	ctl("status", "--local", cid)
	ctl("status", "--filter", "pinned,pin_queued")
	ctl("recover", cid)
	file := filepath.Join(t.TempDir(), "edge-ctl.bin")
	if err := os.WriteFile(file, data[:4096], 0o644); err != nil {
		t.Fatal(err)
	}
	added := strings.TrimSpace(ctl("add", "--quieter", "--cid-version", "1", "--raw-leaves", "--name", "edge-ctl-add", "--rmin", "2", "--rmax", "3", "--metadata", "k=v", file))
	// The edge spreads requests over the peers like the load balancer: the
	// next request may reach a peer the new pin has not reached over CRDT
	// yet (it would answer 404), as a client of a deployment may see too.
	waitFor(t, ctx, "the add through the edge reached every peer's pinset", func() error { return inPinset(ctx, c, added, true) })
	ctl("pin", "rm", added)
	ctl("pin", "rm", cid)
	waitFor(t, ctx, "ipfs-cluster-ctl's unpins through the edge reached every peer", func() error {
		if err := inPinset(ctx, c, added, false); err != nil {
			return err
		}
		return inPinset(ctx, c, cid, false)
	})
	requireRetrievable(t, ctx, c, everyone)
}

// send makes one request and returns its status and (bounded) body.
func send(t *testing.T, ctx context.Context, c *localcluster.Client, method, path string) (int, string) {
	t.Helper()
	resp, err := c.Do(ctx, method, path, nil, "")
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, c.Base, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

func requireEdgeRefusal(t *testing.T, ctx context.Context, c *localcluster.Client, method, path string) {
	t.Helper()
	resp, err := c.Do(ctx, method, path, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var answer struct {
		Error, Parameter string
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(b, &answer) != nil || answer.Parameter != "replication-min" {
		t.Fatalf("%s %s through the edge: %d %s, want the edge's 400 naming replication-min", method, path, resp.StatusCode, b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("the edge's refusal has Cache-Control %q", cc)
	}
	t.Logf("%s %s through the edge: 400 %s", method, path, b)
}

// inPinset checks that cid is (or is not) in every peer's shared pinset.
func inPinset(ctx context.Context, c *localcluster.Cluster, cid string, want bool) error {
	for _, i := range everyone {
		pins, err := c.Peer(i).Client().Allocations(ctx)
		if err != nil {
			return fmt.Errorf("node%d: %w", i, err)
		}
		has := slices.ContainsFunc(pins, func(p localcluster.Pin) bool { return p.Cid == cid })
		if has != want {
			return fmt.Errorf("node%d's pinset has %s: %t", i, cid, has)
		}
	}
	return nil
}

// holdPinset fails as soon as cid's presence in a peer's pinset differs
// from want during edgeHoldWindow.
func holdPinset(t *testing.T, ctx context.Context, c *localcluster.Cluster, cid string, want bool) {
	t.Helper()
	end := time.Now().Add(edgeHoldWindow)
	for time.Now().Before(end) {
		if err := inPinset(ctx, c, cid, want); err != nil {
			t.Fatalf("after a request the edge refused: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	t.Logf("%s stayed %s on every peer for %s", cid, map[bool]string{true: "pinned", false: "unpinned"}[want], edgeHoldWindow)
}
