package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

// The pin-ingest benchmark (`localcluster bench pins`): N pins by CID of
// content every kubo already holds, so that what is timed is the cluster's
// pin machinery (API, allocation, CRDT, pin tracker), for the shipped
// configuration and upstream's defaults, each on fresh clusters.

// Recovery targets of issue 18 (rebuilt peer at N = 1,000; all peers
// crashed at once).
const (
	rebuiltTarget = 30 * time.Second
	crashTarget   = 20 * time.Second
	// killWait bounds how long the kill mode waits for the pinset to
	// converge after the killed peer is back (upstream rebroadcasts heads
	// every minute).
	killWait = 3 * time.Minute
	// pinRetry is how long a client retries a pin that failed.
	pinRetry = 30 * time.Second
	// pinPoll is how often the pinset's status is read while waiting.
	pinPoll = 500 * time.Millisecond
)

// PinsOptions configure RunPinBench.
type PinsOptions struct {
	// Base is the clusters' options; Root is replaced by a fresh
	// directory under Dir for every cluster, ClusterEnv applies to the
	// shipped profile only.
	Base Options
	// Dir holds the clusters and the CAR file (a temporary directory).
	Dir string
	// N pins, Clients concurrent requests.
	N, Clients int
	// Kill runs the kill mode instead of the ingest and recovery figures.
	Kill bool

	// shippedOnly leaves out the upstream profile (the end-to-end test).
	shippedOnly bool
}

// PeerFigures are one peer's figures at the end of a run.
type PeerFigures struct {
	Name                string
	KuboRSS, ClusterRSS int64 // bytes
	Heads, Height       int   // CRDT DAG heads and max height
}

// IngestFigures are one ingest of N pins.
type IngestFigures struct {
	Via         string // "edge" or "node0"
	Acked       int    // 2xx answers
	Ingest      time.Duration
	UntilPinned time.Duration // from the first request until every pin is PINNED on replication-min peers
	FirstCopy   time.Duration // from the first request until every pin is PINNED on one peer
	Peers       []PeerFigures
}

// PinsPerSecond is acknowledged pins per second of ingest.
func (f *IngestFigures) PinsPerSecond() float64 { return float64(f.Acked) / f.Ingest.Seconds() }

// KillFigures are the kill mode's counts.
type KillFigures struct {
	Acked     int
	Lost      int // acknowledged but missing from some peer's pinset
	NotPinned int // acknowledged but not PINNED on replication-min peers
	Converged time.Duration
	Missing   map[string]int // per peer view
}

// RecoveryFigures are the shipped configuration's recovery times.
type RecoveryFigures struct {
	Rebuilt     time.Duration // a peer from an empty volume holds all its allocations
	RebuiltPins int           // its allocations
	Started     time.Duration // until its kubo and cluster peer answered
	Synced      time.Duration // until its own pinset view held every pin
	Crash       time.Duration // every peer SIGKILLed and started: all pins PINNED on min peers
}

// ProfileResult is one profile's figures.
type ProfileResult struct {
	Name       string
	Env        []string
	Edge, Peer *IngestFigures
	Kill       *KillFigures
	Recovery   *RecoveryFigures
}

// PinsResult is the whole benchmark.
type PinsResult struct {
	N, Clients, Peers, ReplicationMin, ReplicationMax int
	Settings                                          []ProfileSetting
	Shipped, Upstream                                 ProfileResult
}

// RunPinBench runs the benchmark, printing figures to out as they come.
func RunPinBench(ctx context.Context, opt PinsOptions, out io.Writer) (*PinsResult, error) {
	if opt.N < 1 || opt.Clients < 1 {
		return nil, errors.New("bench pins: -n and -clients must be positive")
	}
	// One more block than pins: the warm-up pin.
	blocks, err := newPinBlocks(opt.N + 1)
	if err != nil {
		return nil, err
	}
	carPath := filepath.Join(opt.Dir, "pins.car")
	f, err := os.Create(carPath)
	if err != nil {
		return nil, err
	}
	err = writeCAR(f, blocks)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	warm := blocks[0].CID.String()
	cids := make([]string, opt.N)
	for i, b := range blocks[1:] {
		cids[i] = b.CID.String()
	}
	res := &PinsResult{N: opt.N, Clients: opt.Clients}
	// The profile comes from a cluster's configuration; nothing starts.
	probe := opt.Base
	probe.Root = filepath.Join(opt.Dir, "profile")
	pc, err := New(probe)
	if err != nil {
		return nil, err
	}
	var upEnv []string
	if res.Settings, upEnv, err = pc.UpstreamProfile(ctx); err != nil {
		return nil, err
	}
	_, env, err := pc.PeerEnvironment(pc.Peers[0].Index)
	if err != nil {
		return nil, err
	}
	res.Peers = len(pc.Peers)
	res.ReplicationMin, _ = strconv.Atoi(env["CLUSTER_REPLICATIONFACTORMIN"])
	res.ReplicationMax, _ = strconv.Atoi(env["CLUSTER_REPLICATIONFACTORMAX"])
	_, _ = fmt.Fprintf(out, "pin benchmark: %d distinct %d-byte raw blocks, written as one CAR and imported into every peer's kubo before timing (ipfs dag import --pin-roots=false): the figures measure the cluster's pin machinery, not transfer\n",
		opt.N, pinBlockSize)
	_, _ = fmt.Fprintf(out, "%d concurrent clients, POST /pins/<cid> with the configuration's replication (min %d, max %d) on %d peers; each measurement on a fresh cluster\n",
		opt.Clients, res.ReplicationMin, res.ReplicationMax, res.Peers)
	_, _ = fmt.Fprintln(out, "upstream profile: the shipped tuning settings at the values `ipfs-cluster-service init --consensus crdt` writes (kubo identical):")
	for i, s := range res.Settings {
		// A setting tried with -cluster-env is what the shipped peers run.
		if v := lookupEnv(opt.Base.ClusterEnv, s.Name); v != "" {
			s.Shipped = v + " (-cluster-env)"
			res.Settings[i] = s
		}
		_, _ = fmt.Fprintf(out, "  %-40s shipped %-26q upstream %q from %s\n", s.Name, s.Shipped, s.Upstream, s.Source)
	}
	if len(opt.Base.ClusterEnv) > 0 {
		_, _ = fmt.Fprintf(out, "shipped profile with -cluster-env %s\n", strings.Join(opt.Base.ClusterEnv, " "))
	}
	res.Shipped = ProfileResult{Name: "shipped", Env: opt.Base.ClusterEnv}
	res.Upstream = ProfileResult{Name: "upstream", Env: upEnv}
	for _, pr := range []*ProfileResult{&res.Shipped, &res.Upstream} {
		if opt.shippedOnly && pr != &res.Shipped {
			continue
		}
		b := pinBench{opt: opt, cids: cids, warm: warm, car: carPath, out: out, min: res.ReplicationMin, profile: pr}
		if opt.Kill {
			if pr.Kill, err = b.kill(ctx); err != nil {
				return res, fmt.Errorf("%s, kill mode: %w", pr.Name, err)
			}
			continue
		}
		if pr.Edge, err = b.ingest(ctx, true, false); err != nil {
			return res, fmt.Errorf("%s, through the edge: %w", pr.Name, err)
		}
		if pr.Peer, err = b.ingest(ctx, false, pr == &res.Shipped); err != nil {
			return res, fmt.Errorf("%s, straight to node0: %w", pr.Name, err)
		}
	}
	res.Print(out)
	return res, nil
}

// pinBench runs one profile's measurements.
type pinBench struct {
	opt     PinsOptions
	cids    []string
	warm    string // pinned before timing, see cluster
	car     string
	out     io.Writer
	min     int
	profile *ProfileResult
}

// cluster starts a fresh cluster of the profile with the edge and every
// kubo holding the blocks.
func (b *pinBench) cluster(ctx context.Context, name string) (*Cluster, error) {
	o := b.opt.Base
	o.Root = filepath.Join(b.opt.Dir, b.profile.Name+"-"+name)
	o.ClusterEnv = b.profile.Env
	c, err := New(o)
	if err != nil {
		return nil, err
	}
	if err := c.Up(ctx); err != nil {
		return c, err
	}
	for _, p := range c.Peers {
		if err := c.importCAR(ctx, p, b.car); err != nil {
			return c, err
		}
	}
	// A settled cluster, as a deployment is: a fresh one's first CRDT
	// update can wait for the pubsub mesh or a heads rebroadcast, once.
	start := time.Now()
	if err := pinAll(ctx, []string{b.warm}, 1, c.Peers[0].Client, nil); !err[0] {
		return c, errors.New("the warm-up pin was not acknowledged")
	}
	if _, err := waitPinned(ctx, c.Peers[0].Client(), []string{b.warm}, b.min, start); err != nil {
		return c, err
	}
	c.logf("warm-up pin PINNED on %d peers after %.1f s", b.min, time.Since(start).Seconds())
	return c, nil
}

// finish stops a cluster, then reads each peer's CRDT figures (the
// datastore is only readable by one process) and removes its files.
func (b *pinBench) finish(c *Cluster, figures *IngestFigures, err error) error {
	if c == nil {
		return err
	}
	stopErr := errors.Join(c.StopEdge(), c.Stop())
	if err == nil && stopErr == nil && figures != nil {
		for i, p := range c.Peers {
			h, ht, e := c.crdtInfo(context.Background(), p)
			if e != nil {
				return e
			}
			figures.Peers[i].Heads, figures.Peers[i].Height = h, ht
		}
	}
	if err == nil && stopErr == nil {
		_ = os.RemoveAll(c.Root)
	}
	return errors.Join(err, stopErr)
}

// importCAR imports the benchmark's blocks into peer p's kubo, unpinned.
func (c *Cluster) importCAR(ctx context.Context, p *Peer, car string) error {
	env, _ := c.processEnv(p)
	cmd := exec.CommandContext(ctx, c.opt.Bin.IPFS, "dag", "import", "--pin-roots=false", "--stats", car)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("node%d: ipfs dag import: %w: %s", p.Index, err, out)
	}
	return nil
}

// ingest pins every CID through the edge or straight to node0 on a fresh
// cluster and waits until all are PINNED on replication-min peers; with
// recovery it then measures the recovery figures on the same pinset.
func (b *pinBench) ingest(ctx context.Context, viaEdge, recovery bool) (fig *IngestFigures, err error) {
	c, err := b.cluster(ctx, map[bool]string{true: "edge", false: "peer"}[viaEdge])
	defer func() { err = b.finish(c, fig, err) }()
	if err != nil {
		return nil, err
	}
	fig = &IngestFigures{Via: "node0"}
	target := c.Peers[0].Client()
	if viaEdge {
		fig.Via = "edge"
		_, api := c.EdgeURLs()
		target = NewClient(api, c.Secrets.Username, c.Secrets.Password)
	}
	_, _ = fmt.Fprintf(b.out, "%s, %d pins via %s: ", b.profile.Name, len(b.cids), fig.Via)
	start := time.Now()
	acked := pinAll(ctx, b.cids, b.opt.Clients, func() *Client { return target }, nil)
	fig.Ingest = time.Since(start)
	fig.Acked = countTrue(acked)
	_, _ = fmt.Fprintf(b.out, "%d acknowledged in %.1f s (%.0f pins/s); ", fig.Acked, fig.Ingest.Seconds(), fig.PinsPerSecond())
	if fig.Acked != len(b.cids) {
		return fig, fmt.Errorf("%d of %d pins not acknowledged", len(b.cids)-fig.Acked, len(b.cids))
	}
	if fig.FirstCopy, err = waitPinned(ctx, c.Peers[0].Client(), b.cids, b.min, start); err != nil {
		return fig, err
	}
	fig.UntilPinned = time.Since(start)
	_, _ = fmt.Fprintf(b.out, "all PINNED on one peer after %.1f s, on >= %d peers after %.1f s\n", fig.FirstCopy.Seconds(), b.min, fig.UntilPinned.Seconds())
	for _, p := range c.Peers {
		c.mu.Lock()
		kubo, cluster := p.kubo.Pid(), p.cluster.Pid()
		c.mu.Unlock()
		fig.Peers = append(fig.Peers, PeerFigures{Name: fmt.Sprintf("node%d", p.Index), KuboRSS: readRSS(kubo), ClusterRSS: readRSS(cluster)})
	}
	if recovery {
		b.profile.Recovery = &RecoveryFigures{}
		if err := b.recover(ctx, c, b.profile.Recovery); err != nil {
			return fig, err
		}
	}
	return fig, nil
}

// recover measures a rebuilt peer and an all-peer crash.
func (b *pinBench) recover(ctx context.Context, c *Cluster, r *RecoveryFigures) error {
	last := c.Peers[len(c.Peers)-1]
	id, err := last.Client().ID(ctx)
	if err != nil {
		return err
	}
	if err := c.StopPeer(last.Index); err != nil {
		return err
	}
	for _, d := range []string{last.IPFSPath, last.ClusterPath} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := c.StartPeer(ctx, last.Index); err != nil {
		return err
	}
	r.Started = time.Since(start)
	self := last.Client()
	err = poll(ctx, pinPoll, fmt.Sprintf("waiting for the rebuilt node%d to hold its allocations", last.Index), nil, func() error {
		// Its own view of the pinset: complete once the CRDT DAG is
		// replayed (every pin and the warm-up pin).
		pins, err := self.Allocations(ctx)
		if err != nil {
			return err
		}
		if len(pins) > len(b.cids) && r.Synced == 0 {
			r.Synced = time.Since(start)
		}
		var mine []string
		for _, p := range pins {
			for _, a := range p.Allocations {
				if a == id.ID {
					mine = append(mine, p.Cid)
				}
			}
		}
		if len(pins) <= len(b.cids) || len(mine) == 0 {
			return fmt.Errorf("%d pins, %d allocated to it", len(pins), len(mine))
		}
		local, err := self.StatusAll(ctx, "pinned", true)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, g := range local {
			have[g.Cid] = true
		}
		for _, m := range mine {
			if !have[m] {
				return fmt.Errorf("%d of its %d allocations pinned", len(have), len(mine))
			}
		}
		r.RebuiltPins = len(mine)
		return nil
	})
	if err != nil {
		return err
	}
	r.Rebuilt = time.Since(start)
	_, _ = fmt.Fprintf(b.out, "  rebuilt node%d (kubo repo and cluster folder deleted): answering after %.1f s, pinset replayed after %.1f s, all %d allocations PINNED on it %.1f s after its start (%s target <= %s at N = 1,000)\n",
		last.Index, r.Started.Seconds(), r.Synced.Seconds(), r.RebuiltPins, r.Rebuilt.Seconds(), verdict(r.Rebuilt, rebuiltTarget), rebuiltTarget)

	for _, p := range c.Peers {
		c.mu.Lock()
		p.cluster.Signal(syscall.SIGKILL)
		p.kubo.Signal(syscall.SIGKILL)
		p.psa.Signal(syscall.SIGKILL)
		c.mu.Unlock()
	}
	for _, p := range c.Peers {
		if err := c.KillPeer(p.Index); err != nil {
			return err
		}
	}
	start = time.Now()
	if err := c.Start(ctx); err != nil {
		return err
	}
	if _, err := waitPinned(ctx, c.Peers[0].Client(), b.cids, b.min, start); err != nil {
		return err
	}
	r.Crash = time.Since(start)
	_, _ = fmt.Fprintf(b.out, "  all peers SIGKILLed and started: cluster answering and every pin PINNED on >= %d peers %.1f s after the start (%s target <= %s)\n",
		b.min, r.Crash.Seconds(), verdict(r.Crash, crashTarget), crashTarget)
	return nil
}

func verdict(d, target time.Duration) string {
	if d <= target {
		return "meets"
	}
	return "MISSES"
}

// kill ingests straight to node0, SIGKILLs it after half the pins were
// acknowledged, goes on with node1, restarts node0 and counts the
// acknowledged pins that every peer's pinset does not hold.
func (b *pinBench) kill(ctx context.Context) (k *KillFigures, err error) {
	c, err := b.cluster(ctx, "kill")
	defer func() { err = b.finish(c, nil, err) }()
	if err != nil {
		return nil, err
	}
	if len(c.Peers) < 2 {
		return nil, errors.New("the kill mode needs two peers")
	}
	var target atomic.Pointer[Client]
	target.Store(c.Peers[0].Client())
	var once sync.Once
	var triggered atomic.Bool
	killed := make(chan error, 1)
	_, _ = fmt.Fprintf(b.out, "%s, kill mode: %d pins to node0, node0 SIGKILLed after %d acknowledged, then to node1: ", b.profile.Name, len(b.cids), len(b.cids)/2)
	acked := pinAll(ctx, b.cids, b.opt.Clients, target.Load, func(n int) {
		if n >= len(b.cids)/2 {
			once.Do(func() {
				triggered.Store(true)
				go func() {
					err := c.KillPeer(0)
					target.Store(c.Peers[1].Client())
					killed <- err
				}()
			})
		}
	})
	if !triggered.Load() {
		return nil, fmt.Errorf("only %d of %d pins acknowledged: node0 was never killed", countTrue(acked), len(b.cids))
	}
	if err := <-killed; err != nil {
		return nil, err
	}
	k = &KillFigures{Acked: countTrue(acked), Missing: map[string]int{}}
	if err := c.StartPeer(ctx, 0); err != nil {
		return k, err
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	check := func(qctx context.Context) error {
		lost := map[string]bool{}
		for _, p := range c.Peers {
			pins, err := p.Client().Allocations(qctx)
			if err != nil {
				return err
			}
			have := map[string]bool{}
			for _, x := range pins {
				have[x.Cid] = true
			}
			miss := 0
			for i, cid := range b.cids {
				if acked[i] && !have[cid] {
					miss++
					lost[cid] = true
				}
			}
			k.Missing[fmt.Sprintf("node%d", p.Index)] = miss
		}
		k.Lost = len(lost)
		pinned, err := pinnedCounts(qctx, c.Peers[1].Client())
		if err != nil {
			return err
		}
		k.NotPinned = 0
		for i, cid := range b.cids {
			if acked[i] && pinned[cid] < b.min {
				k.NotPinned++
			}
		}
		if k.Lost > 0 || k.NotPinned > 0 {
			return fmt.Errorf("%w: %d acknowledged pins missing, %d not PINNED on %d peers", errNotConverged, k.Lost, k.NotPinned, b.min)
		}
		return nil
	}
	if err := poll(wctx, time.Second, "waiting for the pinset to converge", nil, func() error { return check(wctx) }); err != nil {
		// The bound passed: count once more, with a fresh deadline.
		qctx, qcancel := context.WithTimeout(ctx, time.Minute)
		err := check(qctx)
		qcancel()
		if err != nil && !errors.Is(err, errNotConverged) {
			return k, err
		}
	}
	k.Converged = time.Since(start)
	_, _ = fmt.Fprintf(b.out, "acknowledged pins lost: %d of %d (missing per peer view: %v); not PINNED on >= %d peers after %.0f s: %d\n",
		k.Lost, k.Acked, k.Missing, b.min, k.Converged.Seconds(), k.NotPinned)
	return k, nil
}

// errNotConverged is a count of the kill mode that found pins missing.
var errNotConverged = errors.New("not converged")

// pinAll posts every CID with clients concurrent requests to target()
// (read for every request), retrying one that failed without a 4xx answer
// for pinRetry (a client would: the kill mode's target changes), and returns which were
// acknowledged (2xx). onAck, if set, gets the running count of
// acknowledged pins.
func pinAll(ctx context.Context, cids []string, clients int, target func() *Client, onAck func(int)) []bool {
	acked := make([]bool, len(cids))
	var n atomic.Int64
	next := make(chan int)
	transport := &http.Transport{MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: 2 * time.Minute}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				deadline := time.Now().Add(pinRetry)
				for ctx.Err() == nil {
					t := *target()
					t.HTTP = hc
					resp, err := t.Do(ctx, http.MethodPost, "/pins/"+cids[i], nil, "")
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						if resp.StatusCode/100 == 2 {
							acked[i] = true
							if m := n.Add(1); onAck != nil {
								onAck(int(m))
							}
							break
						}
						if resp.StatusCode/100 == 4 {
							break // refused: a retry would be too
						}
					}
					if time.Now().After(deadline) {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
		}()
	}
	for i := range cids {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return acked
}

func countTrue(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

// pinnedCounts reads the whole pinset's status once, filtered to PINNED
// (one streamed request), and returns on how many peers each CID is pinned.
func pinnedCounts(ctx context.Context, cl *Client) (map[string]int, error) {
	st, err := cl.StatusAll(ctx, "pinned", false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(st))
	for _, g := range st {
		out[g.Cid] = g.CountStatus("pinned")
	}
	return out, nil
}

// waitPinned waits until every CID is PINNED on at least min peers and
// returns when every CID was first PINNED on one peer, since start.
func waitPinned(ctx context.Context, cl *Client, cids []string, min int, start time.Time) (first time.Duration, err error) {
	return first, poll(ctx, pinPoll, fmt.Sprintf("waiting for %d pins to be PINNED on %d peers", len(cids), min), nil, func() error {
		counts, err := pinnedCounts(ctx, cl)
		if err != nil {
			return err
		}
		short, none := 0, 0
		for _, c := range cids {
			if counts[c] < min {
				short++
			}
			if counts[c] == 0 {
				none++
			}
		}
		if none == 0 && first == 0 {
			first = time.Since(start)
		}
		if short > 0 {
			return fmt.Errorf("%d of %d not yet", short, len(cids))
		}
		return nil
	})
}

// readRSS is a process's resident set (VmRSS) in bytes, 0 if unknown.
func readRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil || pid == 0 {
		return 0
	}
	return parseVmRSS(b)
}

// parseVmRSS reads VmRSS (kB) from a /proc/PID/status file, in bytes.
func parseVmRSS(status []byte) int64 {
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// crdtInfoLine is what `ipfs-cluster-service state crdt info` prints.
var crdtInfoLine = regexp.MustCompile(`Number of heads: (\d+)\. Current max-height: (\d+)\.`)

// parseCRDTInfo reads the heads and max height from that output.
func parseCRDTInfo(out []byte) (heads, height int, err error) {
	m := crdtInfoLine.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no CRDT figures in %q", out)
	}
	heads, _ = strconv.Atoi(string(m[1]))
	height, _ = strconv.Atoi(string(m[2]))
	return heads, height, nil
}

// crdtInfo reads a stopped peer's CRDT DAG heads and max height from its
// datastore with `ipfs-cluster-service state crdt info` (go-ds-crdt's
// InternalStats: the heads under /c/h with their heights). ipfs-cluster
// v1.1.6 exports neither as a metric, and the datastore takes one process.
func (c *Cluster) crdtInfo(ctx context.Context, p *Peer) (heads, height int, err error) {
	_, env := c.processEnv(p)
	cmd := exec.CommandContext(ctx, c.opt.Bin.ClusterService, "--config", p.ClusterPath, "state", "crdt", "info")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("node%d: ipfs-cluster-service state crdt info: %w: %s", p.Index, err, out)
	}
	return parseCRDTInfo(out)
}

// Print writes the summary table: shipped and upstream side by side.
func (r *PinsResult) Print(w io.Writer) {
	_, _ = fmt.Fprintf(w, "\nsummary: %d pins, %d clients, replication min %d max %d, %d peers\n", r.N, r.Clients, r.ReplicationMin, r.ReplicationMax, r.Peers)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "figure\tshipped\tupstream\tshipped/upstream\t")
	row := func(name string, s, u float64, format string) {
		ratio := "-"
		if u != 0 {
			ratio = fmt.Sprintf("%.2f", s/u)
		}
		_, _ = fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%s\t\n", name, s, u, ratio)
	}
	s, u := r.Shipped, r.Upstream
	if s.Kill != nil && u.Kill != nil {
		row("acknowledged pins", float64(s.Kill.Acked), float64(u.Kill.Acked), "%.0f")
		row("acknowledged pins lost", float64(s.Kill.Lost), float64(u.Kill.Lost), "%.0f")
		row("not PINNED on min peers", float64(s.Kill.NotPinned), float64(u.Kill.NotPinned), "%.0f")
		_ = tw.Flush()
		_, _ = fmt.Fprintf(w, "shipped: acknowledged pins lost: %d of %d\nupstream: acknowledged pins lost: %d of %d\n", s.Kill.Lost, s.Kill.Acked, u.Kill.Lost, u.Kill.Acked)
		return
	}
	for _, x := range []struct{ s, u *IngestFigures }{{s.Edge, u.Edge}, {s.Peer, u.Peer}} {
		if x.s == nil || x.u == nil {
			continue
		}
		row("via "+x.s.Via+": accepted pins/s", x.s.PinsPerSecond(), x.u.PinsPerSecond(), "%.0f")
		row("via "+x.s.Via+": s until all PINNED on min peers", x.s.UntilPinned.Seconds(), x.u.UntilPinned.Seconds(), "%.1f")
		for i := range x.s.Peers {
			ps, pu := x.s.Peers[i], x.u.Peers[i]
			row("via "+x.s.Via+": "+ps.Name+" kubo RSS MiB", float64(ps.KuboRSS)/mib, float64(pu.KuboRSS)/mib, "%.0f")
			row("via "+x.s.Via+": "+ps.Name+" cluster RSS MiB", float64(ps.ClusterRSS)/mib, float64(pu.ClusterRSS)/mib, "%.0f")
			row("via "+x.s.Via+": "+ps.Name+" CRDT heads", float64(ps.Heads), float64(pu.Heads), "%.0f")
			row("via "+x.s.Via+": "+ps.Name+" CRDT DAG depth", float64(ps.Height), float64(pu.Height), "%.0f")
		}
	}
	_ = tw.Flush()
	if rec := s.Recovery; rec != nil {
		_, _ = fmt.Fprintf(w, "recovery (shipped): rebuilt peer %.1f s for %d allocations (pinset replayed after %.1f s) (%s target <= %s at N = 1,000); all-peer crash %.1f s (%s target <= %s)\n",
			rec.Rebuilt.Seconds(), rec.RebuiltPins, rec.Synced.Seconds(), verdict(rec.Rebuilt, rebuiltTarget), rebuiltTarget, rec.Crash.Seconds(), verdict(rec.Crash, crashTarget), crashTarget)
	}
}
