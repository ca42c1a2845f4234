// Package scenarios proves the images' scripts against real kubo and
// ipfs-cluster processes: a three-peer cluster on loopback (localcluster)
// started exactly as the images start it, then fault drills. One cluster is
// shared by every scenario (in file order); each scenario first brings every
// peer back up, and ends by checking that every CID ever added is still
// retrievable byte-identical.
package scenarios

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

var (
	repoRoot string
	bins     *localcluster.Binaries
	dataRoot string

	sharedOnce sync.Once
	shared     *localcluster.Cluster
	sharedErr  error
)

// TestMain builds (or reuses from the cache) the binaries before the tests
// run, and stops the shared cluster after them. The first build of kubo and
// ipfs-cluster takes minutes; `go run ./cmd/localcluster build` does it
// ahead of time.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	// -short is the fast tier (unit and CDK tests, as the pipeline's synth
	// step runs them); these daemon scenarios take minutes.
	if testing.Short() {
		fmt.Fprintln(os.Stderr, "scenarios: skipped in -short mode (they start real daemons)")
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	var err error
	if repoRoot, err = localcluster.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "scenarios:", err)
		return 1
	}
	start := time.Now()
	if bins, err = localcluster.EnsureBinaries(ctx, repoRoot, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "scenarios: building the binaries:", err)
		return 1
	}
	if d := time.Since(start); d > 5*time.Second {
		fmt.Fprintf(os.Stderr, "scenarios: binaries ready after %s\n", d.Round(time.Second))
	}
	if dataRoot, err = os.MkdirTemp("", "ipfs-cluster-scenarios-"); err != nil {
		fmt.Fprintln(os.Stderr, "scenarios:", err)
		return 1
	}
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "scenarios: stopping the cluster:", err)
			code = 1
		}
	}
	if code == 0 {
		_ = os.RemoveAll(dataRoot)
	} else {
		fmt.Fprintf(os.Stderr, "scenarios: data and process logs kept in %s\n", dataRoot)
	}
	return code
}

// cluster returns the shared cluster with every peer running, starting it
// on first use.
func cluster(t *testing.T, ctx context.Context) *localcluster.Cluster {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = localcluster.New(localcluster.Options{
			Root: dataRoot, RepoRoot: repoRoot, Bin: bins, Log: testLog{},
			// A SIGTERM that does not end a peer within this is a failure
			// of its own (see stopPeer); the default 30 s only slows that.
			StopGrace: 20 * time.Second,
		})
	})
	if sharedErr != nil {
		t.Fatalf("creating the cluster: %v", sharedErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, shared)
		}
	})
	// Every scenario starts from a whole cluster, whatever the previous one
	// left behind.
	if err := shared.Start(ctx); err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}
	return shared
}

type testLog struct{}

func (testLog) Write(b []byte) (int, error) { return os.Stderr.Write(b) }

func dumpLogs(t *testing.T, c *localcluster.Cluster) {
	for _, p := range c.Peers {
		for _, f := range []string{p.KuboLog(), p.ClusterLog(), p.PinningServiceLog()} {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("----- end of %s -----\n%s", f, b)
		}
	}
}

// scenarioCtx bounds one scenario.
func scenarioCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
