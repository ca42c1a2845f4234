package scenarios

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// The add benchmark (`localcluster bench`) end to end on a cluster of its
// own, with a small payload: the real ipfs-cluster-ctl through the local
// edge, every add pinned on every allocation, and figures for every
// process. Not timed: it proves that the benchmark measures what it says.
func TestAddBenchmarkMeasuresEveryMode(t *testing.T) {
	stopShared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := localcluster.RunBench(ctx, localcluster.Options{
		Root: filepath.Join(dataRoot, "bench"), RepoRoot: repoRoot, Bin: bins, Log: testLog{},
	}, localcluster.BenchOptions{FileSize: 2 << 20, Repeats: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Single) != 1 || res.Single[0] <= 0 || len(res.Floor) != 1 || res.Floor[0] <= 0 {
		t.Fatalf("single-node adds %v, want one measurement", res.Single)
	}
	if res.Replication != 3 {
		t.Fatalf("replication %d, want 3: the default configuration's factor max on three peers", res.Replication)
	}
	cids := map[string]bool{}
	for _, m := range localcluster.AddModes {
		runs := res.Adds[m.Name]
		if len(runs) != 1 {
			t.Fatalf("%s: %d runs, want 1", m.Name, len(runs))
		}
		run := runs[0]
		if run.CID == "" || cids[run.CID] {
			t.Fatalf("%s: CID %q: every add must be of fresh bytes", m.Name, run.CID)
		}
		cids[run.CID] = true
		if len(run.PinnedAt) != res.Replication || run.PinnedAt[len(run.PinnedAt)-1] > run.Total || run.Add > run.Total {
			t.Fatalf("%s: add %s, pinned at %v, total %s: want %d peers pinned within the total", m.Name, run.Add, run.PinnedAt, run.Total, res.Replication)
		}
		seen := map[string]bool{}
		for _, p := range run.CPU {
			seen[p.Process] = true
		}
		for _, want := range []string{"edge", "node0 kubo", "node0 cluster", "node2 kubo", "client"} {
			if !seen[want] {
				t.Fatalf("%s: no CPU figure for %q in %v", m.Name, want, run.CPU)
			}
		}
		if run.CPUTotal() <= 0 {
			t.Fatalf("%s: no CPU time measured", m.Name)
		}
	}
	var out bytes.Buffer
	res.Print(&out)
	for _, m := range localcluster.AddModes {
		if !strings.Contains(out.String(), "`"+m.Command("ipfs-cluster-ctl add")+"`") {
			t.Errorf("the report does not name the %s add:\n%s", m.Name, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}
