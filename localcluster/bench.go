package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	// mib is 2^20 bytes.
	mib = 1 << 20
	// targetRatio is the goal for cluster time / single-node time.
	targetRatio = 3.5
)

// benchData is the benchmark's payload: one 32 MiB file and 128 files of
// 256 KiB, random bytes (64 MiB in all).
type benchData struct {
	Files []AddFile
}

// size is the payload size.
func (d *benchData) size() int64 {
	var n int64
	for _, f := range d.Files {
		n += int64(len(f.Data))
	}
	return n
}

// newBenchData generates a fresh random payload (new bytes every call, so
// that no block is already present anywhere).
func newBenchData() *benchData {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	r := rand.NewChaCha8(seed)
	mk := func(name string, n int) AddFile {
		b := make([]byte, n)
		r.Read(b)
		return AddFile{Name: name, Data: b}
	}
	d := &benchData{Files: []AddFile{mk("big-32MiB.bin", 32*mib)}}
	for i := range 128 {
		d.Files = append(d.Files, mk(fmt.Sprintf("small-%03d.bin", i), 256<<10))
	}
	return d
}

// ClusterRun is one cluster add of the payload.
type ClusterRun struct {
	Total time.Duration // from the request until PINNED on every peer
	Add   time.Duration // of which the add request itself
	CID   string
}

// BenchResult holds one benchmark run.
type BenchResult struct {
	Bytes         int64
	Single        time.Duration // plain `ipfs add` into a fresh repo
	SingleCID     string
	SingleCommand string
	KuboProfile   string
	Replication   int
	// Stream: default REST add, the cluster peer streams every block to
	// every allocation. Local: ?local=true, the other peers fetch over
	// bitswap when they pin. Each with its own fresh random payload.
	Stream, Local ClusterRun
}

// mibps converts a duration for the payload into MiB/s.
func (r *BenchResult) mibps(d time.Duration) float64 {
	return float64(r.Bytes) / mib / d.Seconds()
}

// ratio is cluster time / single-node time.
func (r *BenchResult) ratio(c ClusterRun) float64 { return c.Total.Seconds() / r.Single.Seconds() }

// Print writes the figures.
func (r *BenchResult) Print(w io.Writer) {
	fmt.Fprintf(w, "payload: %.1f MiB random (1 x 32 MiB + 128 x 256 KiB), fresh bytes for each measurement\n", float64(r.Bytes)/mib)
	fmt.Fprintf(w, "  single node: `%s` into an empty repo (profile %s, image init script applied)\n", r.SingleCommand, r.KuboProfile)
	fmt.Fprintf(w, "               %6.2f s  %6.1f MiB/s\n", r.Single.Seconds(), r.mibps(r.Single))
	for _, x := range []struct {
		name string
		run  ClusterRun
	}{
		{"cluster add (default: blocks streamed to all allocations)", r.Stream},
		{"cluster add ?local=true (others fetch over bitswap)", r.Local},
	} {
		if x.run.CID == "" {
			continue
		}
		verdict := "meets"
		if r.ratio(x.run) > targetRatio {
			verdict = "MISSES"
		}
		fmt.Fprintf(w, "  %s, via node0's REST API, replication %d, until PINNED on all %d peers:\n", x.name, r.Replication, r.Replication)
		fmt.Fprintf(w, "               %6.2f s  %6.1f MiB/s  (add request %.2f s)  ratio %.2f (%s target <= %.1f)\n",
			x.run.Total.Seconds(), r.mibps(x.run.Total), x.run.Add.Seconds(), r.ratio(x.run), verdict, targetRatio)
	}
}

// benchSingle measures a plain `ipfs add` of data into an empty repository
// prepared exactly like a peer's (upstream init with the image's profile,
// then the image's container-init.d scripts), with the same DAG parameters
// the cluster's add uses, so that both produce the same root CID.
func (c *Cluster) benchSingle(ctx context.Context, data *benchData, res *BenchResult) error {
	dir, err := os.MkdirTemp(c.Root, "bench-single-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	repo := filepath.Join(dir, "ipfs")
	files := filepath.Join(dir, "files")
	for _, d := range []string{repo, files} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var paths []string
	for _, f := range data.Files {
		p := filepath.Join(files, f.Name)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
		paths = append(paths, p)
	}
	// Same environment as node0 but its own repo; the repo is never opened
	// by a daemon, so the addresses do not matter.
	kubo, _ := c.processEnv(c.Peers[0])
	env := mergeEnv(kubo, []string{"IPFS_PATH=" + repo})
	logf, err := os.Create(filepath.Join(c.Root, "bench-single.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	if err := kuboInit(ctx, c.opt.RepoRoot, c.opt.Bin.IPFS, repo, env, logf, nil); err != nil {
		return fmt.Errorf("preparing the single-node repo (log %s): %w", logf.Name(), err)
	}
	res.KuboProfile = lookupEnv(env, "IPFS_PROFILE")
	args := []string{"add", "--quieter", "--wrap-with-directory", "--cid-version=0", "--raw-leaves=false", "--chunker=size-262144"}
	res.SingleCommand = "ipfs " + strings.Join(args, " ") + " <129 files>"
	cmd := exec.CommandContext(ctx, c.opt.Bin.IPFS, append(args, paths...)...)
	cmd.Env = env
	cmd.Stderr = logf
	start := time.Now()
	out, err := cmd.Output()
	res.Single = time.Since(start)
	if err != nil {
		return fmt.Errorf("ipfs add (log %s): %w", logf.Name(), err)
	}
	res.SingleCID = strings.TrimSpace(string(out))
	return nil
}

// benchCluster adds data through peer 0's REST API with replication factor
// min = max = every peer, and measures until the root is PINNED everywhere.
func (c *Cluster) benchCluster(ctx context.Context, data *benchData, local bool) (ClusterRun, error) {
	var run ClusterRun
	n := len(c.Peers)
	cl := c.Peers[0].Client()
	start := time.Now()
	root, err := cl.Add(ctx, AddParams{ReplicationMin: n, ReplicationMax: n, Wrap: true, Name: "bench", Local: local}, data.Files...)
	run.Add = time.Since(start)
	if err != nil {
		return run, err
	}
	run.CID = root
	err = poll(ctx, 50*time.Millisecond, "waiting for the benchmark pin", nil, func() error {
		st, err := cl.Status(ctx, root, false)
		if err != nil {
			return err
		}
		if got := st.CountStatus("pinned"); got < n {
			return fmt.Errorf("pinned on %d of %d peers: %v", got, n, st.PeerMap)
		}
		return nil
	})
	run.Total = time.Since(start)
	return run, err
}

// RunBench runs the benchmark once on a fresh cluster in root (which must
// not hold a cluster) and stops it afterwards.
func RunBench(ctx context.Context, opt Options) (*BenchResult, error) {
	if Existing(opt.Root) {
		return nil, fmt.Errorf("%s already holds a cluster: the benchmark needs a fresh one", opt.Root)
	}
	c, err := New(opt)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	data := newBenchData()
	res := &BenchResult{Bytes: data.size()}
	// The floor first, on an idle machine.
	if err := c.benchSingle(ctx, data, res); err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	// Measure a settled cluster: kubo daemons connected (bitswap works),
	// as in a running deployment.
	if err := c.waitKuboMesh(ctx); err != nil {
		return nil, err
	}
	res.Replication = len(c.Peers)
	if res.Stream, err = c.benchCluster(ctx, data, false); err != nil {
		return nil, err
	}
	if res.SingleCID != res.Stream.CID {
		return res, errors.New("the single-node and cluster adds produced different root CIDs: the runs are not comparable")
	}
	if res.Local, err = c.benchCluster(ctx, newBenchData(), true); err != nil {
		return nil, err
	}
	return res, nil
}
