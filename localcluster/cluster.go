package localcluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/dockerfile"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/proc"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/localedge"
)

// Defaults of Options.
const (
	DefaultRoot      = ".localcluster"
	defaultStopGrace = 30 * time.Second
)

// Options configure a local cluster.
type Options struct {
	// Root holds secrets.env and node<i>/{ipfs,ipfs-cluster,logs}; the
	// node directories play the EFS volumes and survive restarts.
	Root string
	// Peers is the number of peers (default: the configuration's
	// nodeCount, both regions' with a secondRegion, which it may not
	// change).
	Peers int
	// Context overrides keys of cdk.json's context, as `cdk -c key=value`
	// does: the configuration the peers' environment comes from.
	Context map[string]string
	// Deployed, if set, replaces the configuration as the source of the
	// peers' deployed environment (see PeerEnvironment).
	Deployed DeployedEnvironment
	// RepoRoot is the checkout whose docker/ scripts run (default RepoRoot()).
	RepoRoot string
	// Bin are the binaries (required to start processes; see EnsureBinaries).
	Bin *Binaries
	// Detached processes get their own session and outlive this program
	// (the CLI's up); otherwise they are killed when this program dies.
	Detached bool
	// RegionDelay is the one-way delay between the two regions of a
	// configuration with a secondRegion (regions.go): zero takes
	// LOCALCLUSTER_REGION_DELAY, else DefaultRegionDelay; NoRegionDelay
	// links them without one.
	RegionDelay time.Duration
	// StopGrace is how long a SIGTERM may take before SIGKILL (default 30s).
	StopGrace time.Duration
	// KuboEnv and ClusterEnv are added to every peer's environment after
	// everything else (NAME=value), e.g. CLUSTER_REPLICATIONFACTORMIN=3.
	KuboEnv, ClusterEnv []string
	// Log receives progress lines (may be nil).
	Log io.Writer
	// ReadOnly opens the root as it is and creates nothing in it: no root,
	// node directories or secrets.env (Secrets stay empty without one, and
	// an old one is not completed). Commands that only look at or stop
	// what runs (the CLI's status, down, stop-peer and kill-peer) use it, so that a mistyped
	// -root or a larger -c nodeCount leaves no empty cluster behind. Such
	// a cluster is for looking and stopping: starting peers fails.
	ReadOnly bool

	// wrap, if set, adjusts every process the peers' containers would run
	// (start_ipfs's steps, the init scripts, the daemons, the entrypoint)
	// before it starts: the no-root test runs them as another user on a
	// read-only file system.
	wrap func(*exec.Cmd)
	// firstHost is the last octet of peer 0's address (default 11).
	firstHost int
}

// Cluster is a set of local peers, each a kubo daemon plus an ipfs-cluster
// peer, started the way the images start them.
type Cluster struct {
	opt        Options
	Root       string
	Secrets    Secrets
	SecretFile string
	Peers      []*Peer
	kuboImage  []dockerfile.EnvVar
	clusterImg []dockerfile.EnvVar
	deployed   DeployedEnvironment
	// privateGateway is the configuration's: the local edge then asks for
	// credentials on the gateway too, as the distribution does.
	privateGateway bool
	kuboCmd        []string
	clusterCmd     []string
	mu             sync.Mutex // guards the Peers' kubo and cluster processes
	// others are peers of the root beyond Peers (started with a larger
	// -peers or nodeCount) with a process still running: Stop stops them
	// too, whatever the configuration says now.
	others []*Peer
	edge   *localedge.Edge // the edge Up started, kept while this program runs
	// regionFrom is the number of the first region's peers with a second
	// region (0: one region), whose peers are nodespec.SecondRegionFirstIndex on,
	// regionDelay the one-way delay between the regions.
	regionFrom  int
	regionDelay time.Duration
	regions     func(i int) string // the configuration's RegionOf
	regionsMu   sync.Mutex         // guards the region proxy and namespace
}

// Peer is one node: kubo and its cluster sidecar on one loopback address.
type Peer struct {
	Index int
	// Region is the region the peer's deployed counterpart runs in.
	Region      string
	IP          string
	Dir         string // <root>/node<i>
	IPFSPath    string // kubo repo (EFS access point "ipfs")
	ClusterPath string // cluster config and state (EFS access point "ipfs-cluster")
	LogDir      string
	c           *Cluster
	kubo        *proc.Proc
	cluster     *proc.Proc
	psa         *proc.Proc // the Pinning Service API layer
}

// RESTURL is the cluster REST API base URL of the peer.
func (p *Peer) RESTURL() string { return fmt.Sprintf("http://%s:%d", p.IP, nodespec.RestAPIPort) }

// PinningServiceURL is the peer's Pinning Service API endpoint (base path
// included): it takes the REST API's Basic credentials, which the edge
// puts in place of a client's Bearer token.
func (p *Peer) PinningServiceURL() string {
	return fmt.Sprintf("http://%s:%d%s", p.IP, nodespec.PinningServicePort, nodespec.PinningServicePath)
}

// PinningServiceLog is the Pinning Service API layer's log.
func (p *Peer) PinningServiceLog() string { return filepath.Join(p.LogDir, "pinning-service.log") }

// GatewayURL is the kubo gateway base URL of the peer.
func (p *Peer) GatewayURL() string { return fmt.Sprintf("http://%s:%d", p.IP, nodespec.GatewayPort) }

func (p *Peer) clusterSwarmAddr() string {
	return fmt.Sprintf("/ip4/%s/tcp/%d", p.IP, nodespec.ClusterSwarmPort)
}

// Client returns a REST API client for the peer with the cluster's credentials.
func (p *Peer) Client() *Client {
	return NewClient(p.RESTURL(), p.c.Secrets.Username, p.c.Secrets.Password)
}

// Kubo returns a client of the peer's kubo RPC API.
func (p *Peer) Kubo() *KuboClient { return newKuboClient(p.IP, kuboRPCTimeout) }

// KuboLog and ClusterLog are the process logs of the peer.
func (p *Peer) KuboLog() string    { return filepath.Join(p.LogDir, "kubo.log") }
func (p *Peer) ClusterLog() string { return filepath.Join(p.LogDir, "cluster.log") }

// KuboRunning and ClusterRunning report whether the processes are alive.
func (p *Peer) KuboRunning() bool    { return p.kubo.Alive() }
func (p *Peer) ClusterRunning() bool { return p.cluster.Alive() }

func (p *Peer) pidfile(name string) string { return filepath.Join(p.Dir, name+".pid") }

// New prepares a cluster in opt.Root (created if missing, unless
// opt.ReadOnly): it loads or generates the secrets and attaches to
// processes a previous run left running (pidfiles). It starts nothing.
func New(opt Options) (*Cluster, error) {
	if opt.RepoRoot == "" {
		r, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		opt.RepoRoot = r
	}
	cfg, err := loadConfig(opt.RepoRoot, opt.Context)
	if err != nil {
		return nil, err
	}
	regionFrom := 0
	if cfg.SecondRegion != "" {
		regionFrom = cfg.NodeCount
		switch {
		case opt.Peers != 0 && opt.Peers != cfg.TotalNodes():
			return nil, fmt.Errorf("peers: %d with a second region, whose peers are nodeCount (%d) and secondRegionNodeCount (%d): set those instead", opt.Peers, cfg.NodeCount, cfg.SecondRegionNodeCount)
		case cfg.NodeCount > secondRegionFirstHost-11 || cfg.SecondRegionNodeCount > 255-secondRegionFirstHost:
			return nil, fmt.Errorf("two local regions take at most %d peers in the first and %d in the second", secondRegionFirstHost-11, 255-secondRegionFirstHost)
		}
	}
	if opt.Peers == 0 {
		opt.Peers = cfg.TotalNodes()
	}
	if opt.Deployed == nil {
		opt.Deployed = nodeEnvironment(cfg)
	}
	if opt.Peers < 1 || opt.Peers > 200 {
		return nil, fmt.Errorf("peers must be between 1 and 200, got %d", opt.Peers)
	}
	if opt.Root == "" {
		opt.Root = DefaultRoot
	}
	if opt.StopGrace == 0 {
		opt.StopGrace = defaultStopGrace
	}
	if opt.firstHost == 0 {
		opt.firstHost = 11
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	root, err := filepath.Abs(opt.Root)
	if err != nil {
		return nil, err
	}
	if !opt.ReadOnly {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return nil, err
		}
	}
	c := &Cluster{opt: opt, Root: root, SecretFile: filepath.Join(root, "secrets.env"), deployed: opt.Deployed, privateGateway: cfg.PrivateGateway, regionFrom: regionFrom, regions: cfg.RegionOf}
	if regionFrom > 0 {
		if c.regionDelay, err = regionDelay(opt.RegionDelay); err != nil {
			return nil, err
		}
	}
	if opt.ReadOnly {
		if c.Secrets, err = ReadSecrets(c.SecretFile); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	} else {
		c.Secrets, err = loadOrCreateSecrets(c.SecretFile)
	}
	if err != nil {
		return nil, err
	}
	kd, err := dockerfile.Read(filepath.Join(opt.RepoRoot, kuboDockerfile))
	if err != nil {
		return nil, err
	}
	cd, err := dockerfile.Read(filepath.Join(opt.RepoRoot, clusterDockerfile))
	if err != nil {
		return nil, err
	}
	c.kuboImage, c.clusterImg = kd.Env, cd.Env
	c.kuboCmd = upstreamKuboCmd
	if kd.Cmd != nil {
		c.kuboCmd = kd.Cmd
	}
	if kd.Entrypoint != nil && !strings.Contains(strings.Join(kd.Entrypoint, " "), "start_ipfs") {
		return nil, fmt.Errorf("%s: ENTRYPOINT %q is not upstream's start_ipfs, which localcluster emulates", kuboDockerfile, kd.Entrypoint)
	}
	c.clusterCmd = cd.Cmd
	if cd.Entrypoint != nil && !strings.Contains(strings.Join(cd.Entrypoint, " "), filepath.Base(clusterEntrypoint)) {
		return nil, fmt.Errorf("%s: ENTRYPOINT %q does not run %s", clusterDockerfile, cd.Entrypoint, filepath.Base(clusterEntrypoint))
	}
	indices := cfg.PeerIndices()
	if regionFrom == 0 {
		indices = indices[:0]
		for i := range opt.Peers {
			indices = append(indices, i)
		}
	}
	for _, i := range indices {
		p := c.newPeer(i)
		if !opt.ReadOnly {
			for _, d := range []string{p.IPFSPath, p.ClusterPath, p.LogDir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return nil, err
				}
			}
		}
		c.Peers = append(c.Peers, p)
	}
	if c.others, err = c.runningOthers(); err != nil {
		return nil, err
	}
	return c, nil
}

// runningOthers finds the root's node<i> directories beyond Peers whose
// pidfiles name a running process.
func (c *Cluster) runningOthers() ([]*Peer, error) {
	dirs, err := filepath.Glob(filepath.Join(c.Root, "node*"))
	if err != nil {
		return nil, err
	}
	var others []*Peer
	for _, dir := range dirs {
		i, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "node"))
		if err != nil || c.Peer(i) != nil {
			continue
		}
		p := c.newPeer(i)
		if p.kubo != nil || p.cluster != nil || p.psa != nil {
			others = append(others, p)
		}
	}
	sort.Slice(others, func(a, b int) bool { return others[a].Index < others[b].Index })
	return others, nil
}

// Others are the peers of the root beyond Peers that still run a process:
// a root started with more peers than the configuration now has.
func (c *Cluster) Others() []*Peer { return c.others }

// NetEnv is the environment variable that picks the loopback network
// (127.0.N.x): part of how a root is reached again.
const NetEnv = netEnv

// newPeer describes peer i of the root, attached to the processes its
// pidfiles name if they still run.
func (c *Cluster) newPeer(i int) *Peer {
	dir := filepath.Join(c.Root, fmt.Sprintf("node%d", i))
	p := &Peer{
		Index: i, Region: c.regions(i), IP: peerIP(c.opt.firstHost + i), Dir: dir, c: c,
		IPFSPath:    filepath.Join(dir, "ipfs"),
		ClusterPath: filepath.Join(dir, "ipfs-cluster"),
		LogDir:      filepath.Join(dir, "logs"),
	}
	if c.InSecondRegion(i) {
		p.IP = peerIP(secondRegionFirstHost + i - nodespec.SecondRegionFirstIndex)
	}
	p.kubo = proc.Load(fmt.Sprintf("node%d kubo", i), p.pidfile("kubo"))
	p.cluster = proc.Load(fmt.Sprintf("node%d cluster", i), p.pidfile("cluster"))
	p.psa = proc.Load(fmt.Sprintf("node%d pinning-service", i), p.pidfile("pinning-service"))
	return p
}

// Existing reports whether root holds a local cluster (its secrets file).
func Existing(root string) bool {
	_, err := os.Stat(filepath.Join(root, "secrets.env"))
	return err == nil
}

func (c *Cluster) peer(i int) (*Peer, error) {
	for _, p := range c.Peers {
		if p.Index == i {
			return p, nil
		}
	}
	var have []string
	for _, p := range c.Peers {
		have = append(have, strconv.Itoa(p.Index))
	}
	return nil, fmt.Errorf("no peer %d (have %s)", i, strings.Join(have, ", "))
}

// Peer is the peer with index i (node<i>), nil if the cluster has none.
func (c *Cluster) Peer(i int) *Peer {
	p, _ := c.peer(i)
	return p
}

func (c *Cluster) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(c.opt.Log, "localcluster: "+format+"\n", args...)
}
