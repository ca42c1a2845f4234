package localcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/netns"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/proc"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/regionproxy"
)

// Two local regions (the configuration's secondRegion).
//
// The second region's peers run in a network namespace of their own
// (<root>/region2.netns), on loopback addresses of their own range
// (127.0.N.111, .112, ...). The two namespaces share no network at all: the
// one way between them is the region proxy (package regionproxy, one
// detached process per root), which listens in each namespace on the other
// region's peers' own addresses and ports and holds every byte back for the
// one-way delay. So every peer reaches every other at the same address
// from both regions (the CLUSTER_PEER_MULTIADDRS replacement needs no
// per-region mapping), and the addresses libp2p learns through identify
// and the DHT lead through the proxy too: a peer cannot dial around it,
// because from its namespace nothing else answers on the other region's
// addresses. Address filters and announced addresses would not give that:
// kubo has Swarm.AddrFilters, but ipfs-cluster v1.1.6 has only
// announce_multiaddress/no_announce_multiaddress, one list for every
// audience and no filter on what it dials, so a peer that learned another's
// own address (its peer list, its peerstore file, identify) would reach it
// around the proxy.
//
// Delayed: the swarms (kubo 4001/tcp, cluster 9096), the links between the
// regions in a deployment. Not delayed: what this program, the local edge
// and an operator reach the second region's peers on from the first
// region's namespace (REST API, gateway, kubo RPC), and the second
// region's kubos' way to the local DNSLink responder. kubo's UDP
// transports (QUIC, WebTransport, WebRTC) do not cross at all: between the
// regions the swarm is TCP only.

// RegionDelayEnv is the variable that sets the one-way delay between two
// local regions (a Go duration, e.g. 40ms; 0 for none) when
// Options.RegionDelay does not.
const RegionDelayEnv = "LOCALCLUSTER_REGION_DELAY"

// DefaultRegionDelay is the one-way delay between two local regions: about
// half the round trip between two AWS regions of one continent.
const DefaultRegionDelay = 40 * time.Millisecond

// NoRegionDelay as Options.RegionDelay links the regions without a delay.
const NoRegionDelay time.Duration = -1

// secondRegionFirstHost is the last octet of the second region's first
// peer (node100): 11 + its index, as for the first region's, which are
// 11..110 at most.
const secondRegionFirstHost = 111

// The ports each side of the link proxies.
var (
	swarmPorts  = []int{nodespec.SwarmPort, nodespec.ClusterSwarmPort}
	accessPorts = []int{nodespec.RestAPIPort, nodespec.GatewayPort, nodespec.KuboRPCPort}
)

// regionDelay resolves Options.RegionDelay.
func regionDelay(opt time.Duration) (time.Duration, error) {
	switch {
	case opt < 0:
		return 0, nil
	case opt > 0:
		return opt, nil
	}
	v, ok := os.LookupEnv(RegionDelayEnv)
	if !ok || v == "" {
		return DefaultRegionDelay, nil
	}
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 40ms, or 0", RegionDelayEnv, v)
	}
	return d, nil
}

// RegionsNeedRoot says why two local regions cannot run here, or "": their
// network namespace needs root.
func RegionsNeedRoot() string {
	if os.Geteuid() != 0 {
		return "two local regions need root: the second region runs in a network namespace of its own"
	}
	return ""
}

// TwoRegions reports whether the cluster spans two regions.
func (c *Cluster) TwoRegions() bool { return c.regionFrom > 0 }

// RegionDelay is the one-way delay between the regions.
func (c *Cluster) RegionDelay() time.Duration { return c.regionDelay }

// InSecondRegion tells whether peer i runs in the second region.
func (c *Cluster) InSecondRegion(i int) bool {
	return c.regionFrom > 0 && i >= nodespec.SecondRegionFirstIndex
}

// RegionPeers are the indexes of the peers of the first and the second
// region (none in the second with one region).
func (c *Cluster) RegionPeers() (first, second []int) {
	for _, p := range c.Peers {
		if c.InSecondRegion(p.Index) {
			second = append(second, p.Index)
		} else {
			first = append(first, p.Index)
		}
	}
	return first, second
}

func (c *Cluster) netnsPath() string { return filepath.Join(c.Root, "region2.netns") }

// netnsOf is the namespace peer i runs in ("" for this program's).
func (c *Cluster) netnsOf(i int) string {
	if c.InSecondRegion(i) {
		return c.netnsPath()
	}
	return ""
}

// wrapFor adjusts every process of peer p: Options.wrap, then, in the
// second region, entering its namespace.
func (c *Cluster) wrapFor(p *Peer) func(*exec.Cmd) {
	ns := c.netnsOf(p.Index)
	if ns == "" {
		return c.opt.wrap
	}
	return func(cmd *exec.Cmd) {
		if c.opt.wrap != nil {
			c.opt.wrap(cmd)
		}
		if err := netns.Wrap(cmd, ns); err != nil {
			cmd.Err = err
		}
	}
}

// DialFrom opens a TCP connection to address from peer i's region (its
// network namespace): what that peer's own dial would reach.
func (c *Cluster) DialFrom(i int, address string) (net.Conn, error) {
	if _, err := c.peer(i); err != nil {
		return nil, err
	}
	var conn net.Conn
	err := netns.Do(c.netnsOf(i), func() (err error) {
		conn, err = net.DialTimeout("tcp", address, 5*time.Second)
		return err
	})
	return conn, err
}

// LinkStats count what went through one proxied address between the
// regions.
type LinkStats = regionproxy.Stats

// RegionLinkStats reads the region proxy's counters, by link: "node<i>:<port>"
// is peer i's port as the other region reaches it (Forward: towards peer
// i, Back: from it).
func (c *Cluster) RegionLinkStats() (map[string]LinkStats, error) {
	return regionproxy.ReadStats(c.regionProxyStats())
}

func linkName(i, port int) string { return "node" + strconv.Itoa(i) + ":" + strconv.Itoa(port) }

func (c *Cluster) regionProxyPidfile() string { return filepath.Join(c.Root, "regionproxy.pid") }
func (c *Cluster) regionProxyConfig() string  { return filepath.Join(c.Root, "regionproxy.json") }
func (c *Cluster) regionProxyStats() string   { return filepath.Join(c.Root, "regionproxy.stats.json") }

// RegionProxyLog is the region proxy's log.
func (c *Cluster) RegionProxyLog() string { return filepath.Join(c.Root, "regionproxy.log") }

const regionProxyName = "region proxy"

// regionLinks are the proxy's links: each first-region peer's swarm ports
// in the second region's namespace, each second-region peer's swarm ports
// (delayed) and access ports (not) in the first's, and the DNSLink
// responder's port in the second's.
func (c *Cluster) regionLinks() []regionproxy.Link {
	ns := c.netnsPath()
	var links []regionproxy.Link
	add := func(name, addr, listenNS, targetNS string, delay time.Duration) {
		links = append(links, regionproxy.Link{Name: name, Listen: addr, ListenNetns: listenNS, Target: addr, TargetNetns: targetNS, Delay: delay})
	}
	for _, p := range c.Peers {
		for _, port := range swarmPorts {
			addr := net.JoinHostPort(p.IP, strconv.Itoa(port))
			if c.InSecondRegion(p.Index) {
				add(linkName(p.Index, port), addr, "", ns, c.regionDelay)
			} else {
				add(linkName(p.Index, port), addr, ns, "", c.regionDelay)
			}
		}
		if c.InSecondRegion(p.Index) {
			for _, port := range accessPorts {
				add(linkName(p.Index, port), net.JoinHostPort(p.IP, strconv.Itoa(port)), "", ns, 0)
			}
		}
	}
	dns := fmt.Sprintf("127.0.0.1:%d", dnslinkBasePort+localNet())
	add("dnslink", dns, ns, "", 0)
	return links
}

// ensureRegions makes the second region's namespace and runs the region
// proxy for this configuration (a running one with another configuration
// is replaced). Nothing with one region.
func (c *Cluster) ensureRegions(ctx context.Context) error {
	if !c.TwoRegions() {
		return nil
	}
	c.regionsMu.Lock()
	defer c.regionsMu.Unlock()
	if err := netns.Create(c.netnsPath()); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(regionproxy.Config{Links: c.regionLinks(), StatsFile: c.regionProxyStats()}, "", "  ")
	if err != nil {
		return err
	}
	if p := proc.Load(regionProxyName, c.regionProxyPidfile()); p != nil {
		if old, _ := os.ReadFile(c.regionProxyConfig()); bytes.Equal(old, cfg) {
			return nil
		}
		c.logf("the region proxy (pid %d) links another configuration: replacing it", p.Pid())
		if _, err := p.Stop(5 * time.Second); err != nil {
			return err
		}
	}
	if c.opt.Bin == nil || c.opt.Bin.RegionProxy == "" {
		return errors.New("localcluster: two regions need Binaries.RegionProxy (EnsureBinaries)")
	}
	if err := os.WriteFile(c.regionProxyConfig(), cfg, 0o644); err != nil {
		return err
	}
	_ = os.Remove(c.regionProxyStats())
	logf, err := openLog(c.RegionProxyLog(), "start region proxy")
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	cmd := exec.Command(c.opt.Bin.RegionProxy, c.regionProxyConfig())
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := proc.Start(regionProxyName, c.regionProxyPidfile(), cmd, c.opt.Detached)
	if err != nil {
		return err
	}
	c.logf("region proxy started (pid %d, %d links, one-way delay %s)", p.Pid(), len(c.regionLinks()), c.regionDelay)
	// It writes its counters once every listener is up.
	return c.poll(ctx, 50*time.Millisecond, "waiting for the region proxy to listen", func() error {
		if !p.Alive() {
			return fmt.Errorf("the region proxy exited (log %s)", c.RegionProxyLog())
		}
		return nil
	}, func() error {
		_, err := os.Stat(c.regionProxyStats())
		return err
	})
}

// RegionProxyRunning reports whether the root's region proxy runs.
func (c *Cluster) RegionProxyRunning() bool {
	return proc.Load(regionProxyName, c.regionProxyPidfile()).Alive()
}

// stopRegions stops the region proxy and removes the namespace, once no
// peer runs.
func (c *Cluster) stopRegions() error {
	c.regionsMu.Lock()
	defer c.regionsMu.Unlock()
	var err error
	if p := proc.Load(regionProxyName, c.regionProxyPidfile()); p != nil {
		c.logf("waiting for the region proxy (pid %d) to stop...", p.Pid())
		_, err = p.Stop(5 * time.Second)
	}
	if netns.Exists(c.netnsPath()) {
		err = errors.Join(err, netns.Remove(c.netnsPath()))
	}
	return err
}

// checkFreeIn is checkFree in peer p's namespace.
func (c *Cluster) checkFreeIn(p *Peer, ports ...int) error {
	return netns.Do(c.netnsOf(p.Index), func() error { return checkFree(p.IP, ports...) })
}
