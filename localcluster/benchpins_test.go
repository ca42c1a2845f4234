package localcluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The pin benchmark's code path on real daemons with a tiny N, the shipped
// profile only (upstream's minute-long rebroadcast would dominate the
// test's time): every acknowledged pin is in every peer's pinset and the
// figures are real. Nothing here is timed against a target.
func TestPinBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons")
	}
	// Its own loopback network: `go test ./...` runs the scenario tests,
	// on LOCALCLUSTER_NET's, at the same time.
	t.Setenv(netEnv, "202")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, bins := testBinaries(t, ctx)
	const n = 40
	for _, kill := range []bool{false, true} {
		var out bytes.Buffer
		dir := t.TempDir()
		res, err := RunPinBench(ctx, PinsOptions{
			Base: Options{RepoRoot: root, Bin: bins, Log: os.Stderr},
			Dir:  dir, N: n, Clients: 4, Kill: kill, shippedOnly: true,
		}, &out)
		t.Log(out.String())
		require.NoError(t, err)
		left, _ := filepath.Glob(filepath.Join(dir, "shipped-*"))
		assert.Empty(t, left, "clusters removed after a successful run")
		assert.Equal(t, 2, res.ReplicationMin)
		s := res.Shipped
		if kill {
			k := s.Kill
			require.NotNil(t, k)
			assert.Equal(t, n, k.Acked, "every pin acknowledged, by node0 or after it died by node1")
			assert.Zero(t, k.Lost, "shipped: no acknowledged pin lost")
			assert.Zero(t, k.NotPinned)
			assert.Len(t, k.Missing, 3, "every peer's view checked")
			assert.Contains(t, out.String(), "acknowledged pins lost: 0 of 40")
			continue
		}
		for _, f := range []*IngestFigures{s.Edge, s.Peer} {
			require.NotNil(t, f)
			assert.Equal(t, n, f.Acked)
			assert.Positive(t, f.PinsPerSecond())
			assert.GreaterOrEqual(t, f.UntilPinned, f.FirstCopy)
			assert.Positive(t, f.FirstCopy)
			require.Len(t, f.Peers, 3)
			for _, p := range f.Peers {
				assert.Positive(t, p.KuboRSS, p.Name)
				assert.Positive(t, p.ClusterRSS, p.Name)
				assert.Positive(t, p.Heads, p.Name)
				assert.Positive(t, p.Height, p.Name)
			}
		}
		r := s.Recovery
		require.NotNil(t, r)
		assert.Positive(t, r.Rebuilt)
		assert.Positive(t, r.Crash)
		assert.Positive(t, r.RebuiltPins)
		assert.LessOrEqual(t, r.RebuiltPins, n+1, "its allocations among the pins and the warm-up pin")
	}
}
