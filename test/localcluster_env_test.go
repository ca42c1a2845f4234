package test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// TestLocalPeersRunTheDeployedEnvironment: every local peer gets exactly
// the environment the synthesized task definition gives its containers,
// except the documented local-only differences (localcluster.LocalDifferences:
// addresses, paths, bootstrap). The local cluster reads cdk.json through the
// config package, like the app.
func TestLocalPeersRunTheDeployedEnvironment(t *testing.T) {
	c, err := localcluster.New(localcluster.Options{Root: t.TempDir(), RepoRoot: repoRoot})
	require.NoError(t, err)
	require.Len(t, c.Peers, defaults.config.NodeCount, "local peers = cdk.json's nodeCount")

	localOnly := map[string]map[string]bool{localcluster.KuboContainer: {}, localcluster.ClusterContainer: {}, localcluster.PinningServiceContainer: {}}
	for _, d := range localcluster.LocalDifferences {
		require.NotEmpty(t, d.Why, "%s %s: every local-only difference says why", d.Container, d.Name)
		localOnly[d.Container][d.Name] = true
	}
	containerOf := map[string]string{node.KuboContainerName: localcluster.KuboContainer, node.ClusterContainerName: localcluster.ClusterContainer, node.PinningServiceContainerName: localcluster.PinningServiceContainer}

	for i := range c.Peers {
		_, task := defaults.withPrefix(t, "AWS::ECS::TaskDefinition", fmt.Sprintf("Node%dTask", i))
		kubo, cluster, err := c.PeerEnvironment(i)
		require.NoError(t, err)
		psa, err := c.PinningServiceEnvironment(i)
		require.NoError(t, err)
		local := map[string]map[string]string{localcluster.KuboContainer: kubo, localcluster.ClusterContainer: cluster, localcluster.PinningServiceContainer: psa}

		containers := list(task.Properties["ContainerDefinitions"])
		require.Len(t, containers, len(containerOf)+1, "node%d's containers: kubo, the cluster, the Pinning Service API layer, the metrics collector", i)
		for _, def := range containers {
			name, _ := path(def, "Name").(string)
			if name == node.CollectorContainerName {
				continue // no local counterpart
			}
			which, ok := containerOf[name]
			require.True(t, ok, "node%d: unexpected container %q", i, name)
			deployed := map[string]string{}
			for _, kv := range list(path(def, "Environment")) {
				value, isLiteral := path(kv, "Value").(string)
				require.True(t, isLiteral, "node%d %s: %v is not a literal", i, name, kv)
				deployed[path(kv, "Name").(string)] = value
			}
			require.NotEmpty(t, deployed, "node%d %s has no environment", i, name)
			for k, v := range deployed {
				if localOnly[which][k] {
					continue
				}
				assert.Equal(t, v, local[which][k], "node%d %s: %s differs locally and is not a documented local-only difference", i, name, k)
			}
			for k := range local[which] {
				if _, inTask := deployed[k]; !inTask && !localOnly[which][k] {
					t.Errorf("node%d %s: local peers get %s, which the task definition does not set", i, name, k)
				}
			}
		}
	}
	// The gateway serves what other peers hold, locally as deployed (the
	// init script's own default once said otherwise).
	kubo, _, err := c.PeerEnvironment(0)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(defaults.config.GatewayNoFetch), kubo["KUBO_GATEWAY_NOFETCH"])
}
