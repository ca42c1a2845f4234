package localcluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"go/parser"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every CLUSTER_* setting the shipped configuration gains must be either
// classified as not tuning or given upstream's value by the profile: this
// fails on a new entrypoint export or task environment variable that
// neither upstream's service.json nor its source default covers.
func TestUpstreamProfileCoversEveryShippedTuningSetting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the cached ipfs-cluster-service init (builds it when missing)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, bins := testBinaries(t, ctx)
	c, err := New(Options{Root: t.TempDir(), RepoRoot: root, Bin: bins})
	require.NoError(t, err)
	settings, env, err := c.UpstreamProfile(ctx)
	require.NoError(t, err)
	shipped, err := c.shippedClusterSettings()
	require.NoError(t, err)
	covered := map[string]bool{}
	for _, s := range settings {
		covered[s.Name] = true
		assert.NotEmpty(t, s.Upstream, s.Name)
	}
	for name := range shipped {
		_, kept := notTuning[name]
		assert.True(t, kept || covered[name], "%s is neither covered nor classified", name)
	}
	// The settings the issue names, with upstream's known values.
	assert.Contains(t, env, "CLUSTER_CRDT_BATCHING_MAXBATCHSIZE=0")
	assert.Contains(t, env, "CLUSTER_CRDT_REBROADCASTINTERVAL=1m0s")
	assert.Contains(t, env, "CLUSTER_STATELESS_CONCURRENTPINS=10")
	assert.Contains(t, env, datastoreVariable+"=pebble")

	// A setting nothing covers is refused, by name.
	shipped["CLUSTER_NEW_TUNABLE"] = "1"
	sj, err := upstreamServiceJSON(ctx, bins.ClusterService)
	require.NoError(t, err)
	_, _, err = upstreamProfile(shipped, sj, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CLUSTER_NEW_TUNABLE")
}

func TestEntrypointSettingsAreItsDefaultedExports(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, clusterEntrypoint))
	require.NoError(t, err)
	got := entrypointSettings(string(b))
	assert.Equal(t, "5s", got["CLUSTER_CRDT_REBROADCASTINTERVAL"])
	assert.Contains(t, got, "CLUSTER_STATELESS_CONCURRENTPINS")
	assert.NotContains(t, got, "CLUSTER_RESTAPI_BASICAUTHCREDENTIALS", "credentials are exported without a default")
	assert.Equal(t, map[string]string{"CLUSTER_A": "1"}, entrypointSettings(`export CLUSTER_A="${CLUSTER_A:-1}"
export CLUSTER_B="${CLUSTER_C:-2}"
export CLUSTER_D=3`))
}

func TestServiceJSONVariablesFollowEnvconfig(t *testing.T) {
	got, err := serviceJSONVariables([]byte(`{
		"cluster": {"mdns_interval": "10s", "resource_manager": {"memory_limit_bytes": 0}, "replication_factor_min": -1},
		"consensus": {"crdt": {"batching": {"max_batch_size": 0, "max_batch_age": "0s"}}},
		"allocator": {"balanced": {"allocate_by": ["tag:group", "freespace"]}},
		"observations": {"metrics": {"enable_stats": false}},
		"datastore": {"pebble": {"pebble_options": {"cache_size_bytes": 1073741824}}}
	}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"CLUSTER_MDNSINTERVAL":                        "10s",
		"CLUSTER_RESOURCEMANAGER_MEMORYLIMITBYTES":    "0",
		"CLUSTER_REPLICATIONFACTORMIN":                "-1",
		"CLUSTER_CRDT_BATCHING_MAXBATCHSIZE":          "0",
		"CLUSTER_CRDT_BATCHING_MAXBATCHAGE":           "0s",
		"CLUSTER_BALANCED_ALLOCATEBY":                 "tag:group,freespace",
		"CLUSTER_METRICS_ENABLESTATS":                 "false",
		"CLUSTER_PEBBLE_PEBBLEOPTIONS_CACHESIZEBYTES": "1073741824",
	}, got)
	ds, err := serviceJSONDatastore([]byte(`{"datastore": {"pebble": {}}}`))
	require.NoError(t, err)
	assert.Equal(t, "pebble", ds)
}

func TestUpstreamProfileTakesSourceDefaultsAndKeepsWhatIsNotTuning(t *testing.T) {
	sj := []byte(`{"cluster": {"mdns_interval": "10s"}, "datastore": {"pebble": {}}}`)
	shipped := map[string]string{
		"CLUSTER_MDNSINTERVAL":             "0s",
		"CLUSTER_CRDT_REBROADCASTINTERVAL": "10s",
		"CLUSTER_PEERNAME":                 "node0",
	}
	settings, env, err := upstreamProfile(shipped, sj, map[string][2]string{"CLUSTER_CRDT_REBROADCASTINTERVAL": {"1m0s", "consensus/crdt/config.go"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"CLUSTER_CRDT_REBROADCASTINTERVAL=1m0s", "CLUSTER_MDNSINTERVAL=10s", datastoreVariable + "=pebble"}, env)
	require.Len(t, settings, 3)
	assert.Contains(t, settings[0].Source, "consensus/crdt/config.go")
}

func TestSourceDefaultsReadTheComponentsConstants(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "consensus", "crdt"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "consensus", "crdt", "config.go"), []byte(`package crdt
import "time"
var envConfigKey = "cluster_crdt"
const (
	DefaultRebroadcastInterval = time.Minute
	DefaultRepairInterval = 2 * time.Hour
	DefaultPeersetMetric = "ping"
)`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "cluster_config.go"), []byte(`package ipfscluster
const DefaultMDNSInterval = 10 * time.Second`), 0o644))
	got, err := sourceDefaults(src, []string{"CLUSTER_CRDT_REBROADCASTINTERVAL", "CLUSTER_CRDT_REPAIRINTERVAL", "CLUSTER_CRDT_PEERSETMETRIC", "CLUSTER_MDNSINTERVAL", "CLUSTER_CRDT_UNKNOWN"})
	require.NoError(t, err)
	assert.Equal(t, map[string][2]string{
		"CLUSTER_CRDT_REBROADCASTINTERVAL": {"1m0s", "consensus/crdt/config.go"},
		"CLUSTER_CRDT_REPAIRINTERVAL":      {"2h0m0s", "consensus/crdt/config.go"},
		"CLUSTER_CRDT_PEERSETMETRIC":       {"ping", "consensus/crdt/config.go"},
		"CLUSTER_MDNSINTERVAL":             {"10s", "cluster_config.go"},
	}, got)
	e, err := parser.ParseExpr("3 * time.Second")
	require.NoError(t, err)
	v, ok := constValue(e)
	assert.True(t, ok)
	assert.Equal(t, "3s", v)
}

func TestParseCRDTInfoAndVmRSS(t *testing.T) {
	heads, height, err := parseCRDTInfo([]byte("2026-12-05T04:35:00Z INFO crdt ...\nNumber of heads: 3. Current max-height: 11. Dirty: false\nHeads: [bafy...]"))
	require.NoError(t, err)
	assert.Equal(t, [2]int{3, 11}, [2]int{heads, height})
	_, _, err = parseCRDTInfo([]byte("error: lock held"))
	assert.Error(t, err)
	assert.Equal(t, int64(81234*1024), parseVmRSS([]byte("Name:\tipfs\nVmPeak:\t 1 kB\nVmRSS:\t   81234 kB\nRssAnon:\t 5 kB\n")))
	assert.Zero(t, parseVmRSS([]byte("Name:\tzombie\n")))
	assert.NotZero(t, readRSS(os.Getpid()))
}

// The CAR is CARv1: a DAG-CBOR header with the first block as root, then
// one section per block whose CID matches its bytes.
func TestWriteCARSectionsMatchTheBlocks(t *testing.T) {
	blocks, err := newPinBlocks(30)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, b := range blocks {
		seen[b.CID.String()] = true
	}
	assert.Len(t, seen, 30, "distinct blocks")
	var buf bytes.Buffer
	require.NoError(t, writeCAR(&buf, blocks))
	r := bytes.NewReader(buf.Bytes())
	n, err := binary.ReadUvarint(r)
	require.NoError(t, err)
	header := make([]byte, n)
	_, err = io.ReadFull(r, header)
	require.NoError(t, err)
	assert.True(t, bytes.Contains(header, blocks[0].CID.Bytes()), "root in the header")
	assert.True(t, strings.HasSuffix(string(header), "version\x01"))
	for i := 0; ; i++ {
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			assert.Equal(t, len(blocks), i)
			break
		}
		require.NoError(t, err)
		section := make([]byte, n)
		_, err = io.ReadFull(r, section)
		require.NoError(t, err)
		cl, c, err := cid.CidFromBytes(section)
		require.NoError(t, err)
		assert.Equal(t, blocks[i].CID, c)
		got, err := c.Prefix().Sum(section[cl:])
		require.NoError(t, err)
		assert.Equal(t, c, got, "section %d's bytes hash to its CID", i)
	}
}
