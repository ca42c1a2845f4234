package localcluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

func isLocalDifference(container, name string) bool {
	return slices.ContainsFunc(LocalDifferences, func(d LocalDifference) bool {
		return d.Container == container && d.Name == name
	})
}

// Each local peer gets the environment the node construct gives its task
// definition for the repository's cdk.json, except for the documented
// local differences.
func TestPeerEnvironmentIsTheDeployedOneBarTheLocalDifferences(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	raw, err := config.LoadCdkJSONContext(root + "/cdk.json")
	require.NoError(t, err)
	cfg, err := config.Parse(raw)
	require.NoError(t, err)

	c, err := New(Options{Root: t.TempDir(), RepoRoot: root})
	require.NoError(t, err)
	require.Len(t, c.Peers, cfg.NodeCount, "the local peers default to the configuration's nodeCount")
	for i, p := range c.Peers {
		kubo, cluster, err := c.PeerEnvironment(i)
		require.NoError(t, err)
		wantKubo, wantCluster := cfg.NodeSettings(i).Environment()
		for _, x := range []struct {
			container string
			got, want map[string]string
		}{{KuboContainer, kubo, wantKubo}, {ClusterContainer, cluster, wantCluster}} {
			for name, want := range x.want {
				got, ok := x.got[name]
				assert.True(t, ok, "node%d %s lacks %s", i, x.container, name)
				if !isLocalDifference(x.container, name) {
					assert.Equal(t, want, got, "node%d %s %s", i, x.container, name)
				} else if name != "CLUSTER_PEER_MULTIADDRS" {
					assert.NotContains(t, got, "0.0.0.0", "node%d %s %s must be local", i, x.container, name)
				}
			}
			for name := range x.got {
				_, deployed := x.want[name]
				assert.True(t, deployed || isLocalDifference(x.container, name), "node%d %s: %s is neither deployed nor a documented local difference", i, x.container, name)
			}
		}
		// What issue 7 found drifting: a default deployment serves content
		// it does not hold, and so does a local peer now.
		assert.Equal(t, "false", kubo["KUBO_GATEWAY_NOFETCH"])
		assert.Equal(t, p.IPFSPath, kubo["IPFS_PATH"])
		assert.Equal(t, "/ip4/"+p.IP+"/tcp/5001", cluster["CLUSTER_IPFSHTTP_NODEMULTIADDRESS"])
		assert.Equal(t, c.peerMultiaddrs(), cluster["CLUSTER_PEER_MULTIADDRS"])

		// The Pinning Service API layer: the task's environment, on the
		// peer's own address.
		psa, err := c.PinningServiceEnvironment(i)
		require.NoError(t, err)
		for name, want := range nodespec.PinningServiceEnvironment() {
			if !isLocalDifference(PinningServiceContainer, name) {
				assert.Equal(t, want, psa[name], "node%d pinning-service %s", i, name)
			}
		}
		assert.Equal(t, fmt.Sprintf("%s:%d", p.IP, nodespec.PinningServicePort), psa[nodespec.PinningServiceListenVariable])
		assert.Equal(t, p.RESTURL(), psa[nodespec.PinningServiceClusterURLVariable])
		assert.Equal(t, fmt.Sprintf("http://%s:%d%s", p.IP, nodespec.PinningServicePort, nodespec.PinningServicePath), p.PinningServiceURL())
	}
}

func TestEveryLocalDifferenceSaysWhy(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range LocalDifferences {
		assert.Contains(t, []string{KuboContainer, ClusterContainer, PinningServiceContainer}, d.Container, d.Name)
		assert.NotEmpty(t, d.Why, d.Name)
		assert.False(t, seen[d.Container+" "+d.Name], "%s %s listed twice", d.Container, d.Name)
		seen[d.Container+" "+d.Name] = true
	}
}

// -c style overrides go through the configuration's parsing and
// validation, like `cdk synth -c key=value`.
func TestContextOverridesReachThePeers(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	c, err := New(Options{Root: t.TempDir(), RepoRoot: root, Context: map[string]string{
		config.KeyGatewayNoFetch: "true", config.KeyReplicationFactorMin: "3", config.KeyReplicationFactorMax: "4", config.KeyNodeCount: "4",
	}})
	require.NoError(t, err)
	assert.Len(t, c.Peers, 4)
	kubo, cluster, err := c.PeerEnvironment(3)
	require.NoError(t, err)
	assert.Equal(t, "true", kubo["KUBO_GATEWAY_NOFETCH"])
	assert.Equal(t, "3", cluster["CLUSTER_REPLICATIONFACTORMIN"])
	assert.Equal(t, "node3", cluster["CLUSTER_PEERNAME"])

	_, err = New(Options{Root: t.TempDir(), RepoRoot: root, Context: map[string]string{config.KeyReplicationFactorMin: "many"}})
	assert.ErrorContains(t, err, config.KeyReplicationFactorMin)
}

// A caller may supply the deployed environment itself; the local
// differences still apply on top.
func TestSuppliedDeployedEnvironment(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	c, err := New(Options{Root: t.TempDir(), RepoRoot: root, Peers: 2, Deployed: func(i, peers int) (map[string]string, map[string]string) {
		return map[string]string{"KUBO_API_ADDRESS": "/ip4/127.0.0.1/tcp/5001", "X": "k"}, map[string]string{"Y": "c"}
	}})
	require.NoError(t, err)
	kubo, cluster, err := c.PeerEnvironment(1)
	require.NoError(t, err)
	assert.Equal(t, "k", kubo["X"])
	assert.Equal(t, "c", cluster["Y"])
	assert.Equal(t, "/ip4/"+c.Peers[1].IP+"/tcp/5001", kubo["KUBO_API_ADDRESS"])
}

// Each LocalSettings rule is one config.Parse applies and the local
// cluster does not: websites run locally without a certificate ARN.
func TestLocalSettingsAreWhatOnlyTheDeploymentRequires(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	websites := map[string]string{config.KeyWebsiteDomains: "site.localhost"}
	raw, err := config.LoadCdkJSONContext(root + "/cdk.json")
	require.NoError(t, err)
	raw[config.KeyWebsiteDomains] = websites[config.KeyWebsiteDomains]
	_, deployErr := config.Parse(raw)
	require.Error(t, deployErr)
	for _, s := range LocalSettings {
		assert.NotEmpty(t, s.Why, s.Key)
		assert.Contains(t, deployErr.Error(), s.Key+": required", "a deployment requires %s", s.Key)
	}
	c, err := New(Options{Root: t.TempDir(), RepoRoot: root, Context: websites})
	require.NoError(t, err)
	kubo, _, err := c.PeerEnvironment(0)
	require.NoError(t, err)
	assert.Equal(t, "site.localhost", kubo["KUBO_DNSLINK_HOSTS"])
}

// With a second region, its peers follow the first region's, on addresses
// of their own range, each with its deployed counterpart's environment:
// region and zone tags, one peer list for both regions. The local edge's
// REST API has only the first region; its gateway fails over to the second.
func TestSecondRegionPeers(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	overrides := map[string]string{
		config.KeySecondRegion: "us-east-2", config.KeySecondRegionAvailabilityZones: "us-east-2a,us-east-2b,us-east-2c",
		config.KeyNodeCount: "3", config.KeySecondRegionNodeCount: "4",
	}
	raw, err := config.LoadCdkJSONContext(root + "/cdk.json")
	require.NoError(t, err)
	for k, v := range overrides {
		raw[k] = v
	}
	cfg, err := config.ParseLocal(raw)
	require.NoError(t, err)
	t.Setenv(RegionDelayEnv, "")
	c, err := New(Options{Root: t.TempDir(), RepoRoot: root, Context: overrides})
	require.NoError(t, err)
	require.Len(t, c.Peers, 7)
	assert.True(t, c.TwoRegions())
	assert.Equal(t, DefaultRegionDelay, c.RegionDelay())
	first, second := c.RegionPeers()
	assert.Equal(t, []int{0, 1, 2}, first)
	assert.Equal(t, []int{100, 101, 102, 103}, second, "the second region's indices start at 100, whatever nodeCount")
	assert.Equal(t, peerIP(13), c.Peers[2].IP)
	assert.Equal(t, peerIP(111), c.Peers[3].IP)
	assert.Equal(t, peerIP(114), c.Peers[6].IP)
	for _, p := range c.Peers {
		i := p.Index
		assert.Equal(t, cfg.RegionOf(i), p.Region)
		kubo, cluster, err := c.PeerEnvironment(i)
		require.NoError(t, err)
		wantKubo, wantCluster := cfg.NodeSettings(i).Environment()
		assert.Equal(t, "region:"+cfg.RegionOf(i)+",zone:"+cfg.ZoneOf(i), cluster["CLUSTER_TAGS_TAGS"])
		for name, want := range wantCluster {
			if !isLocalDifference(ClusterContainer, name) {
				assert.Equal(t, want, cluster[name], "node%d %s", i, name)
			}
		}
		for name, want := range wantKubo {
			if !isLocalDifference(KuboContainer, name) {
				assert.Equal(t, want, kubo[name], "node%d %s", i, name)
			}
		}
		assert.Equal(t, c.peerMultiaddrs(), cluster["CLUSTER_PEER_MULTIADDRS"])
		assert.Equal(t, "/ip4/"+p.IP+"/tcp/9096", cluster["CLUSTER_LISTENMULTIADDRESS"])
	}
	assert.Equal(t, "us-east-2", c.Peers[6].Region)
	edge := c.EdgeOptions()
	assert.Equal(t, []string{c.Peers[0].RESTURL(), c.Peers[1].RESTURL(), c.Peers[2].RESTURL()}, edge.APIUpstreams)
	assert.Equal(t, []string{c.Peers[0].GatewayURL(), c.Peers[1].GatewayURL(), c.Peers[2].GatewayURL()}, edge.GatewayUpstreams)
	assert.Equal(t, []string{c.Peers[3].GatewayURL(), c.Peers[4].GatewayURL(), c.Peers[5].GatewayURL(), c.Peers[6].GatewayURL()}, edge.GatewayFailoverUpstreams)

	// Every swarm port crosses with the delay, nothing else does.
	for _, l := range c.regionLinks() {
		delayed := strings.HasSuffix(l.Listen, ":4001") || strings.HasSuffix(l.Listen, ":9096")
		assert.Equal(t, delayed, l.Delay == DefaultRegionDelay, l.Name)
	}

	_, err = New(Options{Root: t.TempDir(), RepoRoot: root, Context: overrides, Peers: 4})
	assert.ErrorContains(t, err, "secondRegionNodeCount")
	t.Setenv(RegionDelayEnv, "0")
	c, err = New(Options{Root: t.TempDir(), RepoRoot: root, Context: overrides})
	require.NoError(t, err)
	assert.Zero(t, c.RegionDelay())
	t.Setenv(RegionDelayEnv, "soon")
	_, err = New(Options{Root: t.TempDir(), RepoRoot: root, Context: overrides})
	assert.ErrorContains(t, err, RegionDelayEnv)
}
