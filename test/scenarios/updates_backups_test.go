package scenarios

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// replicationMin is the cluster's configured replication factor minimum,
// as each peer got it.
func replicationMin(t *testing.T, c *localcluster.Cluster) int {
	t.Helper()
	_, env, err := c.PeerEnvironment(0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(env["CLUSTER_REPLICATIONFACTORMIN"])
	if err != nil {
		t.Fatalf("CLUSTER_REPLICATIONFACTORMIN: %v", err)
	}
	return n
}

// acked is what a client was told is added.
type acked struct {
	cid  string
	data []byte
	at   time.Time
}

// The rolling update, as the chained ECS deployment performs it: one peer
// at a time gets SIGTERM, stops, starts again and is healthy and
// allocatable in the cluster before the next peer is touched. A client keeps
// adding small unique files through whichever peer answers and reading them
// back. No acknowledged add may be lost, and at every sampled moment some
// peer answers the REST API and serves every CID acknowledged so far.
func TestRollingRestartLosesNoAcknowledgedAdd(t *testing.T) {
	ctx := scenarioCtx(t, 15*time.Minute)
	c := cluster(t, ctx)
	rfMin := replicationMin(t, c)
	client := localcluster.NewClient("", c.Secrets.Username, c.Secrets.Password)
	client.HTTP.Timeout = 20 * time.Second

	var (
		mu        sync.Mutex
		acks      []acked
		failed    int
		samples   int
		gaps      []string // moments when no peer answered and served everything
		maxSample time.Duration
	)
	drillCtx, stopDrill := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the client
		defer wg.Done()
		for k := 0; drillCtx.Err() == nil; k++ {
			data := make([]byte, 4096)
			rand.Read(data)
			name := fmt.Sprintf("rolling-%d.bin", k)
			var cid string
			var err error
			for try := range c.Peers {
				cl := *client
				cl.Base = c.Peer((k + try) % len(c.Peers)).RESTURL()
				if cid, err = cl.Add(drillCtx, localcluster.AddParams{Name: name}, localcluster.AddFile{Name: name, Data: data}); err == nil {
					break
				}
			}
			mu.Lock()
			if err == nil {
				acks = append(acks, acked{cid, data, time.Now()})
			} else if drillCtx.Err() == nil {
				failed++
			}
			mu.Unlock()
			select {
			case <-drillCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	go func() { // the sampler, every 250 ms
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-drillCtx.Done():
				return
			case <-tick.C:
			}
			mu.Lock()
			sofar := append([]acked(nil), acks...)
			mu.Unlock()
			start := time.Now()
			// Every peer at once: the first that answers and serves
			// everything settles the sample.
			sctx, cancel := context.WithTimeout(drillCtx, 5*time.Second)
			results := make(chan error, len(c.Peers))
			for _, p := range c.Peers {
				go func() {
					if _, err := p.Client().ID(sctx); err != nil {
						results <- fmt.Errorf("node%d REST: %w", p.Index, err)
						return
					}
					for _, a := range sofar {
						got, err := localcluster.GatewayGet(sctx, p.GatewayURL(), a.cid)
						if err != nil {
							results <- fmt.Errorf("node%d gateway %s: %w", p.Index, a.cid, err)
							return
						}
						if !bytes.Equal(got, a.data) {
							results <- fmt.Errorf("node%d gateway %s: other bytes", p.Index, a.cid)
							return
						}
					}
					results <- nil
				}()
			}
			var why []string
			ok := false
			for range c.Peers {
				if err := <-results; err == nil {
					ok = true
					break
				} else {
					why = append(why, err.Error())
				}
			}
			took := time.Since(start)
			cancel()
			if drillCtx.Err() != nil {
				return
			}
			mu.Lock()
			samples++
			maxSample = max(maxSample, took)
			if !ok {
				gaps = append(gaps, fmt.Sprintf("%s: %s", start.Format("15:04:05.000"), strings.Join(why, "; ")))
			}
			mu.Unlock()
		}
	}()

	drillStart := time.Now()
	time.Sleep(3 * time.Second) // some content before the first restart
	var times []string
	for n := range c.Peers {
		start := time.Now()
		if err := c.StopPeer(n); err != nil { // SIGTERM; waits until stopped
			t.Fatal(err)
		}
		stopped := time.Since(start)
		if err := c.StartPeer(ctx, n); err != nil {
			t.Fatal(err)
		}
		up := time.Since(start)
		waitSees(t, ctx, c, everyone, everyone)
		for _, i := range everyone {
			waitMetricsFrom(t, ctx, c, i, everyone)
		}
		times = append(times, fmt.Sprintf("node%d: stopped after %s, answering after %s, healthy and allocatable in the cluster after %s",
			n, stopped.Round(10*time.Millisecond), up.Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond)))
	}
	time.Sleep(2 * time.Second) // adds after the last restart too
	stopDrill()
	wg.Wait()
	drill := time.Since(drillStart)

	for _, l := range times {
		t.Logf("restart %s", l)
	}
	t.Logf("whole drill %s: %d adds acknowledged, %d refused by every peer, %d samples (slowest %s), %d without a peer answering and serving everything",
		drill.Round(10*time.Millisecond), len(acks), failed, samples, maxSample.Round(time.Millisecond), len(gaps))
	for _, g := range gaps {
		t.Errorf("no peer answered the REST API and served every acknowledged CID at %s", g)
	}
	if len(acks) < 10 || samples < 20 {
		t.Fatalf("the drill measured too little: %d adds, %d samples", len(acks), samples)
	}

	addedMu.Lock()
	for _, a := range acks {
		added[a.cid] = &content{data: a.data, rfMin: rfMin, rfMax: len(c.Peers), by: t.Name()}
	}
	addedMu.Unlock()
	waitFor(t, ctx, fmt.Sprintf("every acknowledged add pinned on >= %d peers", rfMin), func() error {
		for _, a := range acks {
			st, err := c.Peer(0).Client().Status(ctx, a.cid, false)
			if err != nil {
				return err
			}
			if n := st.CountStatus("pinned"); n < rfMin {
				return fmt.Errorf("%s pinned on %d peers", a.cid, n)
			}
		}
		return nil
	})
	for _, a := range acks {
		for i := range c.Peers {
			requireGateway(t, ctx, c, i, a.cid, a.data)
		}
	}
	waitConverged(t, ctx, c, everyone)
	requireRetrievable(t, ctx, c, everyone)
}

// copyTree copies a directory tree file by file while its owner may be
// writing: what an EFS backup of a running task's file system holds.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			if os.IsNotExist(err) { // removed while copying (a temporary file)
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if os.IsNotExist(err) {
				return nil
			}
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		}
		return nil // sockets, symlinks: none that matter
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// A node's data restored from a copy taken while it ran (as AWS Backup
// copies a live EFS file system): after losing its data and being restored
// from the copy, the peer comes back with the same identities and every pin,
// including what was added after the backup (the cluster's state and the
// other peers' blocks bring it back). Nothing is lost cluster-wide.
func TestRestoreNodeFromLiveCopy(t *testing.T) {
	ctx := scenarioCtx(t, 10*time.Minute)
	c := cluster(t, ctx)
	const n = 2
	p := c.Peer(n)
	before := addRandom(t, ctx, c, 0, 512<<10, rf, rf)
	waitPinnedOn(t, ctx, c, before, everyone)
	id, err := p.Client().ID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kuboID, err := p.Kubo().ID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	backup := t.TempDir()
	start := time.Now()
	copyTree(t, p.IPFSPath, filepath.Join(backup, "ipfs"))
	copyTree(t, p.ClusterPath, filepath.Join(backup, "ipfs-cluster"))
	t.Logf("live copy of node%d's volumes took %s", n, time.Since(start).Round(time.Millisecond))

	after := addRandom(t, ctx, c, 1, 768<<10, rf, rf)
	waitPinnedOn(t, ctx, c, after, everyone)

	// The node's data is broken, and restored from the copy as the
	// runbook does: the node stops (step 1); AWS Backup puts the recovery
	// point in aws-backup-restore_<time>/ at the file system's root, which
	// p.Dir plays (step 2); the maintenance task's restore-from-backup
	// swaps it in (step 3); the node starts (step 4).
	if err := c.StopPeer(n); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.IPFSPath, "config"), []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(p.Dir, "aws-backup-restore_2026-12-04T10-00-00-000Z")
	copyTree(t, filepath.Join(backup, "ipfs"), filepath.Join(restored, "ipfs"))
	copyTree(t, filepath.Join(backup, "ipfs-cluster"), filepath.Join(restored, "ipfs-cluster"))
	restoreFromBackup(t, ctx, p.Dir)
	for _, d := range []string{"ipfs", "ipfs-cluster"} {
		if _, err := os.Stat(filepath.Join(p.Dir, d+".before-restore-2026-12-04T10-00-00-000Z")); err != nil {
			t.Errorf("the broken %s/ is not kept beside: %v", d, err)
		}
	}
	if _, err := os.Stat(restored); !os.IsNotExist(err) {
		t.Errorf("the emptied %s is left behind (%v)", restored, err)
	}
	start = time.Now()
	if err := c.StartPeer(ctx, n); err != nil {
		t.Fatal(err)
	}
	got, err := p.Client().ID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id.ID || got.IPFS.ID != kuboID {
		t.Errorf("restored node%d runs as cluster %s / kubo %s, was %s / %s", n, got.ID, got.IPFS.ID, id.ID, kuboID)
	}
	waitSees(t, ctx, c, everyone, everyone)
	waitPinnedOn(t, ctx, c, after, everyone) // added after the backup
	waitConverged(t, ctx, c, everyone)
	t.Logf("restored node%d whole again %s after its start", n, time.Since(start).Round(10*time.Millisecond))
	requireGateway(t, ctx, c, n, after, allAdded()[after].data)
	requireRetrievable(t, ctx, c, everyone)
	// Step 5: once healthy, the kept data goes.
	restoreFromBackup(t, ctx, "--discard-previous", p.Dir)
	for _, d := range []string{"ipfs", "ipfs-cluster"} {
		if _, err := os.Stat(filepath.Join(p.Dir, d+".before-restore-2026-12-04T10-00-00-000Z")); !os.IsNotExist(err) {
			t.Errorf("%s.before-restore-* is still there (%v)", d, err)
		}
	}
}

// restoreFromBackup runs the kubo image's restore-from-backup script (what
// the maintenance task runs) on a node's file system root.
func restoreFromBackup(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "docker/kubo/maintenance/restore-from-backup.sh"), args...)
	cmd.Env = append(os.Environ(), nodespec.RestoreOwnerVariable+"="+nodespec.User)
	out, err := cmd.CombinedOutput()
	t.Logf("restore-from-backup: %s", bytes.TrimSpace(out))
	if err != nil {
		t.Fatalf("restore-from-backup %s: %v", strings.Join(args, " "), err)
	}
}

// state runs `ipfs-cluster-service state <args>` on peer p's stopped state.
func state(t *testing.T, ctx context.Context, p *localcluster.Peer, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, bins.ClusterService, append([]string{"state"}, args...)...)
	cmd.Env = append(os.Environ(), "IPFS_CLUSTER_PATH="+p.ClusterPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ipfs-cluster-service state %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// exportedCids parses an export: one JSON pin per line.
func exportedCids(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var pin struct {
			Cid string `json:"cid"`
		}
		if err := json.Unmarshal([]byte(l), &pin); err != nil || pin.Cid == "" {
			t.Fatalf("export line %q is not a pin: %v", l, err)
		}
		out = append(out, pin.Cid)
	}
	sort.Strings(out)
	return out
}

// `state export` of a stopped peer is its pinset, one pin per line;
// `state cleanup` then `state import` of that file restores it offline,
// and the peer restarts with the whole pinset.
func TestStateExportImportIsALogicalBackupOfThePinset(t *testing.T) {
	ctx := scenarioCtx(t, 8*time.Minute)
	c := cluster(t, ctx)
	const n = 1
	p := c.Peer(n)
	addRandom(t, ctx, c, n, 64<<10, 2, rf)
	waitConverged(t, ctx, c, everyone)
	pins, err := p.Client().Allocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, pin := range pins {
		want = append(want, pin.Cid)
	}
	sort.Strings(want)

	if err := c.StopPeer(n); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "pinset.json")
	state(t, ctx, p, "export", "-f", file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(strings.TrimSpace(string(b)), "\n") + 1
	exported := exportedCids(t, b)
	t.Logf("exported %d pins in %d lines (%d bytes)", len(exported), lines, len(b))
	if lines != len(want) || strings.Join(exported, ",") != strings.Join(want, ",") {
		t.Fatalf("export holds %d lines %v, the pinset %d pins %v", lines, exported, len(want), want)
	}

	state(t, ctx, p, "cleanup", "--force")
	if left := exportedCids(t, state(t, ctx, p, "export")); len(left) != 0 {
		t.Fatalf("after cleanup the state still holds %d pins", len(left))
	}
	state(t, ctx, p, "import", "--force", file)
	if got := exportedCids(t, state(t, ctx, p, "export")); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after import the state holds %v, want %v", got, want)
	}
	if err := c.StartPeer(ctx, n); err != nil {
		t.Fatal(err)
	}
	waitSees(t, ctx, c, everyone, everyone)
	waitConverged(t, ctx, c, everyone)
	requireRetrievable(t, ctx, c, everyone)
}
