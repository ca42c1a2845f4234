package localcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

const (
	// mib is 2^20 bytes.
	mib = 1 << 20
	// BenchFileSize is the add benchmark's default payload: one file of
	// fresh random bytes for every measurement, so that no block is present
	// anywhere before.
	BenchFileSize = 64 * mib
	// BenchRepeats is how many times each add is measured by default; the
	// best counts.
	BenchRepeats = 3
	// targetRatio is the goal for cluster time / single-node time.
	targetRatio = 3.5
)

// AddMode is one way a client adds a file to the cluster through the edge.
type AddMode struct {
	Name string
	// CtlArgs go between `ipfs-cluster-ctl ... add` and the file.
	CtlArgs []string
}

// Command is the client's command line for this mode, the file as FILE.
func (m AddMode) Command(add string) string {
	return strings.Join(append(append([]string{add}, m.CtlArgs...), "FILE"), " ")
}

// AddModes are the benchmark's adds: what a client gets without flags
// (the receiving peer streams every block to every allocation before it
// answers) and ?local=true (it writes the blocks to its own kubo only and
// the other allocations fetch them over bitswap after the answer).
var AddModes = []AddMode{
	{Name: "default", CtlArgs: nil},
	{Name: "--local", CtlArgs: []string{"--local"}},
}

// ProcessCPU is the CPU time one local process used during a measurement.
type ProcessCPU struct {
	Process string // e.g. "node0 kubo", "edge"
	CPU     time.Duration
}

// ClusterRun is one cluster add of a fresh payload.
type ClusterRun struct {
	Total time.Duration // from the start of the client until PINNED on every allocation
	Add   time.Duration // of which the client's add command
	// PinnedAt is, per peer that holds the pin, when it reported PINNED
	// (from the start of the client), in order.
	PinnedAt []time.Duration
	CID      string
	CPU      []ProcessCPU // the cluster's processes, the edge and the client
}

// CPUTotal sums the run's CPU time.
func (r ClusterRun) CPUTotal() time.Duration {
	var t time.Duration
	for _, p := range r.CPU {
		t += p.CPU
	}
	return t
}

// BenchResult holds one benchmark run: each measurement BenchRepeats times.
type BenchResult struct {
	Bytes  int64
	Single []time.Duration // plain `ipfs add FILE` into a fresh default repo
	// Floor is Replication such adds at once, each into its own repo: the
	// work every allocation must do, without a cluster or a network.
	Floor         []time.Duration
	SingleCommand string
	ClusterCmd    string
	Replication   int
	Cores         int
	// Adds holds, per AddModes entry, its runs in order.
	Adds map[string][]ClusterRun
}

// BestSingle is the fastest single-node add.
func (r *BenchResult) BestSingle() time.Duration { return slices.Min(r.Single) }

// Best is the fastest run of an add mode.
func (r *BenchResult) Best(mode string) ClusterRun {
	runs := r.Adds[mode]
	if len(runs) == 0 {
		return ClusterRun{}
	}
	return slices.MinFunc(runs, func(a, b ClusterRun) int { return int(a.Total - b.Total) })
}

// Ratio is the best cluster time of a mode over the best single-node time.
func (r *BenchResult) Ratio(mode string) float64 {
	return r.Best(mode).Total.Seconds() / r.BestSingle().Seconds()
}

func (r *BenchResult) mibps(d time.Duration) float64 {
	return float64(r.Bytes) / mib / d.Seconds()
}

func seconds(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%.2f", d.Seconds()))
	}
	return strings.Join(s, " ")
}

// Print writes the figures.
func (r *BenchResult) Print(w io.Writer) {
	_, _ = fmt.Fprintf(w, "payload: %.0f MiB of fresh random bytes in one file for every measurement; best of %d; %d cores\n",
		float64(r.Bytes)/mib, len(r.Single), r.Cores)
	_, _ = fmt.Fprintf(w, "  single node: `%s` into a fresh default-profile repo\n", r.SingleCommand)
	_, _ = fmt.Fprintf(w, "    best %6.2f s  %6.1f MiB/s   (runs: %s)\n", r.BestSingle().Seconds(), r.mibps(r.BestSingle()), seconds(r.Single))
	if len(r.Floor) > 0 {
		floor := slices.Min(r.Floor)
		_, _ = fmt.Fprintf(w, "  floor: %d such adds at once, each into its own fresh repo (the copies every allocation must write, no cluster, no network):\n", r.Replication)
		_, _ = fmt.Fprintf(w, "    best %6.2f s   ratio %.2f   (runs: %s)\n", floor.Seconds(), floor.Seconds()/r.BestSingle().Seconds(), seconds(r.Floor))
	}
	for _, m := range AddModes {
		runs := r.Adds[m.Name]
		if len(runs) == 0 {
			continue
		}
		best := r.Best(m.Name)
		verdict := "meets"
		if r.Ratio(m.Name) > targetRatio {
			verdict = "MISSES"
		}
		var totals []time.Duration
		for _, run := range runs {
			totals = append(totals, run.Total)
		}
		_, _ = fmt.Fprintf(w, "  cluster `%s`, replication %d, until PINNED on all %d allocations:\n",
			m.Command(r.ClusterCmd), r.Replication, r.Replication)
		_, _ = fmt.Fprintf(w, "    best %6.2f s  %6.1f MiB/s   ratio %.2f (%s target <= %.1f), %.2f x the floor   (runs: %s)\n",
			best.Total.Seconds(), r.mibps(best.Total), r.Ratio(m.Name), verdict, targetRatio,
			best.Total.Seconds()/slices.Min(r.Floor).Seconds(), seconds(totals))
		_, _ = fmt.Fprintf(w, "    best run: add answered after %.2f s; PINNED at %s s; CPU %.2f s on %d cores (%.0f%% busy):",
			best.Add.Seconds(), seconds(best.PinnedAt), best.CPUTotal().Seconds(), r.Cores,
			100*best.CPUTotal().Seconds()/(best.Total.Seconds()*float64(r.Cores)))
		for _, p := range best.CPU {
			_, _ = fmt.Fprintf(w, " %s %.2f", p.Process, p.CPU.Seconds())
		}
		_, _ = fmt.Fprintln(w)
	}
}

// writeRandomFile writes size fresh random bytes to path.
func writeRandomFile(path string, size int) error {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	b := make([]byte, size)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return os.WriteFile(path, b, 0o644)
}

// benchSingle measures a plain `ipfs add FILE` of fresh random bytes into
// copies fresh repositories of kubo's default profile at once (each its own
// process): with one copy, what a user of one kubo gets, the floor the
// cluster is compared with; with one copy per allocation, the least any
// cluster can do on this machine to store them all.
func (c *Cluster) benchSingle(ctx context.Context, dir string, size, copies int) (time.Duration, error) {
	run, err := os.MkdirTemp(dir, "single-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(run) }()
	file := filepath.Join(run, "random.bin")
	if err := writeRandomFile(file, size); err != nil {
		return 0, err
	}
	adds := make([]*exec.Cmd, copies)
	stderr := make([]bytes.Buffer, copies)
	for i := range adds {
		env := append(os.Environ(), "IPFS_PATH="+filepath.Join(run, fmt.Sprintf("ipfs%d", i)), "IPFS_TELEMETRY=off")
		init := exec.CommandContext(ctx, c.opt.Bin.IPFS, "init")
		init.Env = env
		if out, err := init.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("ipfs init: %w: %s", err, out)
		}
		adds[i] = exec.CommandContext(ctx, c.opt.Bin.IPFS, "add", file)
		adds[i].Env = env
		adds[i].Stdout, adds[i].Stderr = io.Discard, &stderr[i]
	}
	start := time.Now()
	for _, add := range adds {
		if err := add.Start(); err != nil {
			return 0, err
		}
	}
	var errs []error
	for i, add := range adds {
		if err := add.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("ipfs add: %w: %s", err, stderr[i].String()))
		}
	}
	return time.Since(start), errors.Join(errs...)
}

// cpuOf reads a process's user+system CPU time from /proc.
func cpuOf(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command, which is in parentheses and may hold spaces.
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	// USER_HZ is 100 on every Linux that Go supports.
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// benchProcesses lists the local processes an add goes through.
func (c *Cluster) benchProcesses() map[string]int {
	procs := map[string]int{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.Peers {
		if p.kubo != nil {
			procs[fmt.Sprintf("node%d kubo", p.Index)] = p.kubo.Pid()
		}
		if p.cluster != nil {
			procs[fmt.Sprintf("node%d cluster", p.Index)] = p.cluster.Pid()
		}
	}
	if c.edge != nil {
		procs["edge"] = c.edge.Pid()
	}
	return procs
}

// benchCluster adds a fresh file through the local edge with the real
// ipfs-cluster-ctl and waits until every allocation reports PINNED.
func (c *Cluster) benchCluster(ctx context.Context, dir string, size int, mode AddMode, replication int) (ClusterRun, error) {
	var run ClusterRun
	file := filepath.Join(dir, "cluster-random.bin")
	if err := writeRandomFile(file, size); err != nil {
		return run, err
	}
	defer func() { _ = os.Remove(file) }()
	args := append(c.ctlArgs(), "add")
	args = append(args, mode.CtlArgs...)
	cmd := exec.CommandContext(ctx, c.opt.Bin.ClusterCtl, append(args, file)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	procs := c.benchProcesses()
	before := map[string]time.Duration{}
	for name, pid := range procs {
		before[name], _ = cpuOf(pid)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return run, err
	}
	if err := cmd.Wait(); err != nil {
		return run, fmt.Errorf("ipfs-cluster-ctl add: %w: %s", err, stderr.String())
	}
	run.Add = time.Since(start)
	clientCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	run.CID = lastAdded(stdout.String())
	if run.CID == "" {
		return run, fmt.Errorf("ipfs-cluster-ctl add printed no CID: %q", stdout.String())
	}
	pinned := map[string]time.Duration{}
	cl := c.Peers[0].Client()
	err := poll(ctx, 20*time.Millisecond, "waiting for the benchmark pin", nil, func() error {
		st, err := cl.Status(ctx, run.CID, false)
		if err != nil {
			return err
		}
		for peer, info := range st.PeerMap {
			if _, seen := pinned[peer]; !seen && info.Status == "pinned" {
				pinned[peer] = time.Since(start)
			}
		}
		if len(pinned) < replication {
			return fmt.Errorf("pinned on %d of %d peers: %v", len(pinned), replication, st.PeerMap)
		}
		return nil
	})
	run.Total = time.Since(start)
	if err != nil {
		return run, err
	}
	for _, at := range pinned {
		run.PinnedAt = append(run.PinnedAt, at)
	}
	slices.Sort(run.PinnedAt)
	for name, pid := range procs {
		if after, ok := cpuOf(pid); ok {
			run.CPU = append(run.CPU, ProcessCPU{Process: name, CPU: after - before[name]})
		}
	}
	slices.SortFunc(run.CPU, func(a, b ProcessCPU) int { return strings.Compare(a.Process, b.Process) })
	run.CPU = append(run.CPU, ProcessCPU{Process: "client", CPU: clientCPU})
	return run, nil
}

// ctlArgs are ipfs-cluster-ctl's flags that reach the cluster through the
// local edge, as a client reaches a deployment.
func (c *Cluster) ctlArgs() []string {
	return []string{
		"--host", fmt.Sprintf("/ip4/%s/tcp/%d", c.EdgeAddress(), nodespec.RestAPIPort),
		"--force-http", "--basic-auth", c.Secrets.Username + ":" + c.Secrets.Password,
	}
}

// lastAdded returns the CID of ipfs-cluster-ctl add's last "added <cid>
// <name>" line: the root.
func lastAdded(out string) string {
	var cid string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "added" {
			cid = f[1]
		}
	}
	return cid
}

// BenchOptions size the add benchmark.
type BenchOptions struct {
	FileSize int // bytes per add (default BenchFileSize)
	Repeats  int // measurements of each add (default BenchRepeats)
}

// RunBench runs the add benchmark once on a fresh cluster in opt.Root
// (which must not hold a cluster), with its local edge, and stops it
// afterwards.
func RunBench(ctx context.Context, opt Options, bo BenchOptions) (*BenchResult, error) {
	if bo.FileSize <= 0 {
		bo.FileSize = BenchFileSize
	}
	if bo.Repeats <= 0 {
		bo.Repeats = BenchRepeats
	}
	if Existing(opt.Root) {
		return nil, fmt.Errorf("%s already holds a cluster: the benchmark needs a fresh one", opt.Root)
	}
	if opt.Bin.ClusterCtl == "" {
		return nil, errors.New("the benchmark needs ipfs-cluster-ctl (Binaries.ClusterCtl)")
	}
	c, err := New(opt)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Stop() }()
	scratch := filepath.Join(c.Root, "bench")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return nil, err
	}
	res := &BenchResult{
		Bytes:         int64(bo.FileSize),
		SingleCommand: "ipfs add FILE",
		ClusterCmd:    "ipfs-cluster-ctl add",
		Cores:         runtime.NumCPU(),
		Adds:          map[string][]ClusterRun{},
	}
	// The floor first, on an idle machine.
	_, env := c.deployed(0, len(c.Peers))
	maxReplication, err := strconv.Atoi(env["CLUSTER_REPLICATIONFACTORMAX"])
	if err != nil {
		return nil, fmt.Errorf("the peers' CLUSTER_REPLICATIONFACTORMAX: %w", err)
	}
	res.Replication = min(maxReplication, len(c.Peers))
	for range bo.Repeats {
		d, err := c.benchSingle(ctx, scratch, bo.FileSize, 1)
		if err != nil {
			return nil, err
		}
		res.Single = append(res.Single, d)
		if d, err = c.benchSingle(ctx, scratch, bo.FileSize, res.Replication); err != nil {
			return nil, err
		}
		res.Floor = append(res.Floor, d)
	}
	if err := c.Up(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = c.StopEdge() }()
	// Measure a settled cluster: kubo daemons connected (bitswap works),
	// as in a running deployment.
	if err := c.waitKuboMesh(ctx); err != nil {
		return nil, err
	}
	for range bo.Repeats {
		for _, m := range AddModes {
			run, err := c.benchCluster(ctx, scratch, bo.FileSize, m, res.Replication)
			if err != nil {
				return res, fmt.Errorf("%s add: %w", m.Name, err)
			}
			res.Adds[m.Name] = append(res.Adds[m.Name], run)
		}
	}
	return res, nil
}
