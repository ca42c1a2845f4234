package localcluster

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/dockerfile"
)

// The environment contract: what each peer's kubo and cluster processes get.
//
// A peer's environment is what its task definition gives its containers
// (DeployedEnvironment: the node construct's own function, from the same
// configuration), with the LocalDifferences applied. Below it the images'
// ENV lines, as in a container; on top of it the secrets (ECS secrets in a
// task; <root>/secrets.env here) and Options.KuboEnv/ClusterEnv.

// DeployedEnvironment returns the non-secret environment the task
// definition gives peer i's kubo and cluster containers in a cluster of
// peers peers.
type DeployedEnvironment func(i, peers int) (kubo, cluster map[string]string)

// Containers of a peer, as LocalDifference.Container names them.
const (
	KuboContainer    = "kubo"
	ClusterContainer = "cluster"
	// PinningServiceContainer is the Pinning Service API layer, a process
	// from the cluster image.
	PinningServiceContainer = "pinning-service"
)

// LocalDifference is one variable in which a local peer's environment
// differs from what its task definition sets, and why.
type LocalDifference struct {
	Container string // KuboContainer, ClusterContainer or PinningServiceContainer
	Name      string
	Why       string
	value     func(c *Cluster, p *Peer) string
}

const (
	whyPaths = "the container's EFS mount (the image's ENV) is a directory under the cluster's root"
	whyAddr  = "every local peer listens on its own loopback address (127.0.N.11, .12, ...; a second region's peers on 127.0.N.111, .112, ... in a network namespace of their own) instead of the task's wildcard and task-local loopback"
)

// LocalDifferences lists every way a local peer's environment differs from
// the deployed one; nothing else may differ. The configuration itself
// differs only by LocalSettings.
var LocalDifferences = localDifferences()

func localDifferences() []LocalDifference {
	d := []LocalDifference{
		{KuboContainer, "PATH", "the binaries are in the local build cache, not /usr/local/bin",
			func(c *Cluster, _ *Peer) string { return c.pathValue() }},
		{ClusterContainer, "PATH", "the binaries are in the local build cache, not /usr/local/bin",
			func(c *Cluster, _ *Peer) string { return c.pathValue() }},
		{KuboContainer, "IPFS_PATH", whyPaths, func(_ *Cluster, p *Peer) string { return p.IPFSPath }},
		{ClusterContainer, "IPFS_CLUSTER_PATH", whyPaths, func(_ *Cluster, p *Peer) string { return p.ClusterPath }},
		{KuboContainer, "KUBO_BOOTSTRAP", "a local or CI run stays off the public network: no public bootstrap peers, autoconf or delegated routers; the peers find each other through the cluster",
			func(*Cluster, *Peer) string { return "none" }},
		{KuboContainer, "KUBO_ALLOWED_PRIVATE_RANGES", "the server profile filters loopback too: without it in the allowed ranges the local kubo daemons could not dial each other (the VPC ranges are the image's default)",
			func(*Cluster, *Peer) string { return allowedPrivateRanges }},
		{KuboContainer, "KUBO_SUBDOMAIN_GATEWAY_HOSTS", "the gateway domain is localhost locally, whatever gatewayDomainName and gatewaySubdomains say: browsers resolve <cid>.ipfs.localhost to loopback with no DNS record or certificate, so a site can be tried at http://<cid>.ipfs.localhost:<port>/ (the entry has the deployment's shape: subdomains, inlined DNSLink names)",
			func(*Cluster, *Peer) string { return LocalGatewayDomain }},
		{KuboContainer, "KUBO_DNS_RESOLVERS", "names under localhost. resolve through the local DNSLink responder (`localcluster dnslink`, " + dnslinkURLShape + "), the stand-in for the public DNS a deployment finds its websites' _dnslink records in; kubo takes plain-HTTP DNS-over-HTTPS only on 127.0.0.1, so a port per LOCALCLUSTER_NET keeps two local clusters apart",
			func(c *Cluster, p *Peer) string { return c.dnsResolvers(p) }},
		{ClusterContainer, "CLUSTER_PEER_MULTIADDRS", "there is no Cloud Map namespace locally: the peers' loopback swarm addresses replace /dns4/node<i>.<namespace> (and /dns4/node<i>.<second region>.<namespace>); with a second region its peers run in a network namespace of their own, and each region reaches the other's peers at these same addresses through the region proxy, which delays each direction by LOCALCLUSTER_REGION_DELAY (default 40 ms) and is the only way between them (TCP only: kubo's QUIC does not cross)",
			func(c *Cluster, _ *Peer) string { return c.peerMultiaddrs() }},
	}
	for _, name := range slices.Sorted(maps.Keys(nodespec.LocalPinningServiceAddresses("127.0.0.1"))) {
		d = append(d, LocalDifference{PinningServiceContainer, name, whyAddr, func(_ *Cluster, p *Peer) string {
			return nodespec.LocalPinningServiceAddresses(p.IP)[name]
		}})
	}
	kubo, cluster := nodespec.LocalAddresses("127.0.0.1")
	for _, x := range []struct {
		container string
		vars      map[string]string
	}{{KuboContainer, kubo}, {ClusterContainer, cluster}} {
		for _, name := range slices.Sorted(maps.Keys(x.vars)) {
			d = append(d, LocalDifference{x.container, name, whyAddr, func(_ *Cluster, p *Peer) string {
				k, cl := nodespec.LocalAddresses(p.IP)
				if x.container == KuboContainer {
					return k[name]
				}
				return cl[name]
			}})
		}
	}
	return d
}

// LocalSetting is a configuration rule the local cluster does not apply,
// and why (config.ParseLocal).
type LocalSetting struct{ Key, Why string }

// LocalSettings lists the configuration rules that differ locally: the
// local cluster reads cdk.json and -c with config.ParseLocal, which leaves
// out these.
var LocalSettings = []LocalSetting{
	{config.KeyWebsiteCertificateArn, "not required with websiteDomains: it is the websites distribution's certificate, and locally the local edge serves the websites over plain HTTP without one (a certificate that is given is still checked)"},
}

// LocalGatewayDomain is the local peers' subdomain gateway domain.
const LocalGatewayDomain = "localhost"

// allowedPrivateRanges is KUBO_ALLOWED_PRIVATE_RANGES for local runs: the
// image's VPC ranges plus loopback.
const allowedPrivateRanges = "/ip4/127.0.0.0/ipcidr/8,/ip4/10.0.0.0/ipcidr/8,/ip4/172.16.0.0/ipcidr/12,/ip4/192.168.0.0/ipcidr/16,/ip4/100.64.0.0/ipcidr/10"

// netEnv names the variable that moves the whole cluster to other loopback
// addresses (the 3rd octet), so that two local clusters (say two checkouts
// running their scenario tests) can run side by side.
// LOCALCLUSTER_NET=5 puts the peers on 127.0.5.11, 127.0.5.12, ...
const netEnv = "LOCALCLUSTER_NET"

// peerIP returns the loopback address with last octet host on the net
// LOCALCLUSTER_NET selects: peer i is at host 11+i (127.0.0.11, .12, ...).
func peerIP(host int) string {
	return fmt.Sprintf("127.0.%d.%d", localNet(), host)
}

// localNet is LOCALCLUSTER_NET's value, 0 when unset or out of range.
func localNet() int {
	if v, err := strconv.Atoi(os.Getenv(netEnv)); err == nil && v > 0 && v < 255 {
		return v
	}
	return 0
}

// loadConfig reads the configuration as `cdk synth` does: cdk.json's
// context under repoRoot, then the -c style overrides, through package
// config (its defaults and validation included).
func loadConfig(repoRoot string, overrides map[string]string) (config.Config, error) {
	raw, err := config.LoadCdkJSONContext(filepath.Join(repoRoot, "cdk.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return config.Config{}, err
	}
	if raw == nil {
		raw = map[string]any{}
	}
	for k, v := range overrides {
		raw[k] = v
	}
	return config.ParseLocal(raw)
}

// nodeEnvironment is the node construct's environment for cfg: what
// cfg's task definitions set.
func nodeEnvironment(cfg config.Config) DeployedEnvironment {
	return func(i, peers int) (map[string]string, map[string]string) {
		s := cfg.NodeSettings(i)
		s.PeerCount = peers // the local peer count (-peers) may differ from nodeCount
		return s.Environment()
	}
}

// PeerEnvironment returns what plays peer i's task definition environment:
// the deployed environment with the LocalDifferences applied and
// Options.KuboEnv/ClusterEnv on top. The images' ENV lines and the secrets
// come on top in both worlds and are not part of it.
func (c *Cluster) PeerEnvironment(i int) (kubo, cluster map[string]string, err error) {
	p, err := c.peer(i)
	if err != nil {
		return nil, nil, err
	}
	kubo, cluster = c.deployed(i, len(c.Peers))
	kubo, cluster = maps.Clone(kubo), maps.Clone(cluster)
	for _, d := range LocalDifferences {
		var m map[string]string
		switch d.Container {
		case KuboContainer:
			m = kubo
		case ClusterContainer:
			m = cluster
		default:
			continue
		}
		if v := d.value(c, p); v != "" {
			m[d.Name] = v
		}
	}
	for _, x := range []struct {
		extra []string
		m     map[string]string
	}{{c.opt.KuboEnv, kubo}, {c.opt.ClusterEnv, cluster}} {
		for _, kv := range x.extra {
			k, v, _ := strings.Cut(kv, "=")
			x.m[k] = v
		}
	}
	return kubo, cluster, nil
}

// PinningServiceEnvironment returns what plays peer i's Pinning Service API
// container environment: the deployed one with the LocalDifferences
// applied.
func (c *Cluster) PinningServiceEnvironment(i int) (map[string]string, error) {
	p, err := c.peer(i)
	if err != nil {
		return nil, err
	}
	env := nodespec.PinningServiceEnvironment()
	for _, d := range LocalDifferences {
		if d.Container == PinningServiceContainer {
			env[d.Name] = d.value(c, p)
		}
	}
	return env, nil
}

// peerMultiaddrs is the peers' loopback cluster swarm addresses in index
// order, without /p2p (the entrypoint derives the IDs).
func (c *Cluster) peerMultiaddrs() string {
	var a []string
	for _, p := range c.Peers {
		a = append(a, p.clusterSwarmAddr())
	}
	return strings.Join(a, ",")
}

// pathValue puts the binaries first on PATH ("" when none are known).
func (c *Cluster) pathValue() string {
	if c.opt.Bin == nil {
		return ""
	}
	return strings.Join(append(c.opt.Bin.dirs(), os.Getenv("PATH")), string(os.PathListSeparator))
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

// envList turns a map into NAME=value lines in name order.
func envList(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
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

// processEnv is the whole environment of peer p's kubo and cluster
// processes.
func (c *Cluster) processEnv(p *Peer) (kubo, cluster []string) {
	k, cl, _ := c.PeerEnvironment(p.Index)
	kubo = mergeEnv(baseEnv(), imageEnv(c.kuboImage), envList(k))
	cluster = mergeEnv(baseEnv(), imageEnv(c.clusterImg), c.Secrets.env(), envList(cl))
	return kubo, cluster
}

// pinningServiceEnv is the whole environment of peer p's Pinning Service
// API process: the cluster image's, the REST API credentials (the task's
// ECS secrets) and its own.
func (c *Cluster) pinningServiceEnv(p *Peer) []string {
	env, _ := c.PinningServiceEnvironment(p.Index)
	secrets := []string{
		nodespec.RestAPIUsernameVariable + "=" + c.Secrets.Username,
		nodespec.RestAPIPasswordVariable + "=" + c.Secrets.Password,
	}
	return mergeEnv(baseEnv(), imageEnv(c.clusterImg), secrets, envList(env))
}
