package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/dockerfile"
)

// The environment contract: what each peer's kubo and cluster processes get.

// allowedPrivateRanges is KUBO_ALLOWED_PRIVATE_RANGES for local runs: the
// image's VPC ranges plus loopback.
const allowedPrivateRanges = "/ip4/127.0.0.0/ipcidr/8,/ip4/10.0.0.0/ipcidr/8,/ip4/172.16.0.0/ipcidr/12,/ip4/192.168.0.0/ipcidr/16,/ip4/100.64.0.0/ipcidr/10"

// netEnv names the variable that moves the whole cluster to other loopback
// addresses (the 3rd octet), so that two local clusters (say two checkouts
// running their scenario tests) can run side by side.
// LOCALCLUSTER_NET=5 puts the peers on 127.0.5.11, 127.0.5.12, ...
const netEnv = "LOCALCLUSTER_NET"

// peerIP returns the loopback address of peer i: 127.0.0.11, .12, ...
func peerIP(i int) string {
	net := 0
	if v, err := strconv.Atoi(os.Getenv(netEnv)); err == nil && v > 0 && v < 255 {
		net = v
	}
	return fmt.Sprintf("127.0.%d.%d", net, 11+i)
}

// peerMultiaddrs is CLUSTER_PEER_MULTIADDRS: every peer's cluster swarm
// address in index order, without /p2p (the entrypoint derives the IDs).
func (c *Cluster) peerMultiaddrs() string {
	var a []string
	for _, p := range c.Peers {
		a = append(a, p.clusterSwarmAddr())
	}
	return strings.Join(a, ",")
}

// baseEnv is this program's environment without anything that could change
// how kubo or the cluster behave (the image starts from a clean one).
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "IPFS_"), strings.HasPrefix(name, "KUBO_"),
			strings.HasPrefix(name, "CLUSTER_"), strings.HasPrefix(name, "RESTAPI_"),
			strings.HasPrefix(name, "GOLOG_"), strings.HasPrefix(name, "LIBP2P_"),
			strings.HasPrefix(name, "GO"), name == "PATH":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// mergeEnv applies NAME=value settings in order, later ones replacing
// earlier ones.
func mergeEnv(lists ...[]string) []string {
	idx := map[string]int{}
	var out []string
	for _, l := range lists {
		for _, kv := range l {
			name, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[name]; ok {
				out[i] = kv
				continue
			}
			idx[name] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// lookupEnv returns the last value of name in env ("" if unset).
func lookupEnv(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// imageEnv turns Dockerfile ENV lines into NAME=value, leaving out those that
// describe the container's file system rather than behaviour.
func imageEnv(vars []dockerfile.EnvVar) []string {
	var out []string
	for _, v := range vars {
		switch v.Name {
		case "PATH", "HOME", "IPFS_PATH", "IPFS_CLUSTER_PATH":
			continue
		}
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

func (c *Cluster) pathEnv() string {
	dirs := c.opt.Bin.dirs()
	return "PATH=" + strings.Join(append(dirs, os.Getenv("PATH")), string(os.PathListSeparator))
}

// kuboEnv is the environment of peer p's kubo: the kubo Dockerfile's ENV
// lines, then the contract's paths and addresses for this peer.
func (c *Cluster) kuboEnv(p *Peer) []string {
	return mergeEnv(baseEnv(), imageEnv(c.kuboImage), []string{
		c.pathEnv(),
		"IPFS_PATH=" + p.IPFSPath,
		"KUBO_API_ADDRESS=" + p.rpcAddr(),
		fmt.Sprintf("KUBO_GATEWAY_ADDRESS=/ip4/%s/tcp/%d", p.IP, nodespec.GatewayPort),
		fmt.Sprintf("KUBO_SWARM_ADDRESSES=/ip4/%s/tcp/%d,/ip4/%s/udp/%d/quic-v1", p.IP, nodespec.SwarmPort, p.IP, nodespec.SwarmPort),
		"KUBO_BOOTSTRAP=none",
		// Loopback is private too: without it in the allowed ranges the
		// server profile's filters stop the local kubo daemons from
		// dialling each other (the VPC ranges are the image's default).
		"KUBO_ALLOWED_PRIVATE_RANGES=" + allowedPrivateRanges,
	}, c.opt.KuboEnv)
}

// clusterEnv is the environment of peer p's cluster container: the cluster
// Dockerfile's ENV lines, the generated secrets, then the contract's paths
// and addresses for this peer.
func (c *Cluster) clusterEnv(p *Peer) []string {
	return mergeEnv(baseEnv(), imageEnv(c.clusterImg), c.stackEnv, c.Secrets.env(), []string{
		c.pathEnv(),
		"IPFS_CLUSTER_PATH=" + p.ClusterPath,
		"CLUSTER_PEER_INDEX=" + strconv.Itoa(p.Index),
		"CLUSTER_PEER_MULTIADDRS=" + c.peerMultiaddrs(),
		"CLUSTER_BIND_ADDRESS=" + p.IP,
		"CLUSTER_IPFSHTTP_NODEMULTIADDRESS=" + p.rpcAddr(),
	}, c.opt.ClusterEnv)
}

// stackClusterEnv returns the cluster settings the stack's task definition
// takes from cdk.json's context (the replication factor), so that a local
// cluster behaves like a default deployment. Missing keys are left out.
func stackClusterEnv(repoRoot string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "cdk.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cdk struct {
		Context map[string]json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(b, &cdk); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	var out []string
	for key, env := range map[string]string{
		"replicationFactorMin": "CLUSTER_REPLICATIONFACTORMIN",
		"replicationFactorMax": "CLUSTER_REPLICATIONFACTORMAX",
	} {
		raw, ok := cdk.Context[key]
		if !ok {
			continue
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			var str string // cdk -c values are strings
			if json.Unmarshal(raw, &str) != nil {
				return nil, fmt.Errorf("cdk.json: context %s is not a number", key)
			}
			n = json.Number(str)
		}
		if _, err := n.Int64(); err != nil {
			return nil, fmt.Errorf("cdk.json: context %s is not an integer", key)
		}
		out = append(out, env+"="+n.String())
	}
	sort.Strings(out)
	return out, nil
}

// PeerEnvironment returns what peer i's kubo and cluster processes get on
// top of this program's own environment: the images' ENV lines, the
// deployed settings and the local ones.
func (c *Cluster) PeerEnvironment(i int) (kubo, cluster map[string]string) {
	p, err := c.peer(i)
	if err != nil {
		return nil, nil
	}
	base := len(baseEnv())
	return envMap(c.kuboEnv(p)[base:]), envMap(c.clusterEnv(p)[base:])
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
