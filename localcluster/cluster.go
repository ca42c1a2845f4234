package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Production ports (DESIGN.md §3); every peer gets its own loopback address.
const (
	KuboSwarmPort     = 4001
	KuboRPCPort       = 5001
	KuboGatewayPort   = 8080
	ClusterRESTPort   = 9094
	ClusterSwarmPort  = 9096
	DefaultPeers      = 3
	DefaultRoot       = ".localcluster"
	defaultStopGrace  = 30 * time.Second
	kuboEntrypointDir = "docker/kubo/container-init.d"
	clusterEntrypoint = "docker/ipfs-cluster/cluster-entrypoint.sh"
)

// upstreamKuboCmd is the CMD of the upstream kubo image (its Dockerfile),
// used unless docker/kubo/Dockerfile sets its own.
var upstreamKuboCmd = []string{"daemon", "--migrate=true", "--agent-version-suffix=docker"}

// allowedPrivateRanges is KUBO_ALLOWED_PRIVATE_RANGES for local runs: the
// image's VPC ranges plus loopback.
const allowedPrivateRanges = "/ip4/127.0.0.0/ipcidr/8,/ip4/10.0.0.0/ipcidr/8,/ip4/172.16.0.0/ipcidr/12,/ip4/192.168.0.0/ipcidr/16,/ip4/100.64.0.0/ipcidr/10"

// FirstIPEnv names the variable that moves the whole cluster to other
// loopback addresses (the 3rd octet), so that two local clusters (say two
// checkouts running their scenario tests) can run side by side.
// LOCALCLUSTER_NET=5 puts the peers on 127.0.5.11, 127.0.5.12, ...
const FirstIPEnv = "LOCALCLUSTER_NET"

// PeerIP returns the loopback address of peer i: 127.0.0.11, .12, ...
func PeerIP(i int) string {
	net := 0
	if v, err := strconv.Atoi(os.Getenv(FirstIPEnv)); err == nil && v > 0 && v < 255 {
		net = v
	}
	return fmt.Sprintf("127.0.%d.%d", net, 11+i)
}

// Options configure a local cluster.
type Options struct {
	// Root holds secrets.env and node<i>/{ipfs,ipfs-cluster,logs}; the
	// node directories play the EFS volumes and survive restarts.
	Root string
	// Peers is the number of peers (default 3).
	Peers int
	// RepoRoot is the checkout whose docker/ scripts run (default RepoRoot()).
	RepoRoot string
	// Bin are the binaries (required to start processes; see EnsureBinaries).
	Bin *Binaries
	// Detached processes get their own session and outlive this program
	// (the CLI's up); otherwise they are killed when this program dies.
	Detached bool
	// StopGrace is how long a SIGTERM may take before SIGKILL (default 30s).
	StopGrace time.Duration
	// KuboEnv and ClusterEnv are added to every peer's environment after
	// everything else (NAME=value), e.g. CLUSTER_REPLICATIONFACTORMIN=3.
	KuboEnv, ClusterEnv []string
	// Log receives progress lines (may be nil).
	Log io.Writer
}

// Cluster is a set of local peers, each a kubo daemon plus an ipfs-cluster
// peer, started the way the images start them.
type Cluster struct {
	opt        Options
	Root       string
	Secrets    Secrets
	SecretFile string
	Peers      []*Peer
	kuboEnv    []EnvVar
	clusterEnv []EnvVar
	stackEnv   []string // what the task definition adds from cdk.json
	kuboCmd    []string
	clusterCmd []string
	mu         sync.Mutex
}

// Peer is one node: kubo and its cluster sidecar on one loopback address.
type Peer struct {
	Index       int
	IP          string
	Dir         string // <root>/node<i>
	IPFSPath    string // kubo repo (EFS access point "ipfs")
	ClusterPath string // cluster config and state (EFS access point "ipfs-cluster")
	LogDir      string
	c           *Cluster
	kubo        *proc
	cluster     *proc
}

// RESTURL is the cluster REST API base URL of the peer.
func (p *Peer) RESTURL() string { return fmt.Sprintf("http://%s:%d", p.IP, ClusterRESTPort) }

// GatewayURL is the kubo gateway base URL of the peer.
func (p *Peer) GatewayURL() string { return fmt.Sprintf("http://%s:%d", p.IP, KuboGatewayPort) }

// RPCAddr is the kubo RPC multiaddr of the peer.
func (p *Peer) RPCAddr() string { return fmt.Sprintf("/ip4/%s/tcp/%d", p.IP, KuboRPCPort) }

// ClusterSwarmAddr is the cluster swarm multiaddr (without /p2p).
func (p *Peer) ClusterSwarmAddr() string {
	return fmt.Sprintf("/ip4/%s/tcp/%d", p.IP, ClusterSwarmPort)
}

// Client returns a REST API client for the peer with the cluster's credentials.
func (p *Peer) Client() *Client {
	return NewClient(p.RESTURL(), p.c.Secrets.Username, p.c.Secrets.Password)
}

// KuboLog and ClusterLog are the process logs of the peer.
func (p *Peer) KuboLog() string    { return filepath.Join(p.LogDir, "kubo.log") }
func (p *Peer) ClusterLog() string { return filepath.Join(p.LogDir, "cluster.log") }

// KuboRunning and ClusterRunning report whether the processes are alive.
func (p *Peer) KuboRunning() bool    { return p.kubo.alive() }
func (p *Peer) ClusterRunning() bool { return p.cluster.alive() }

// New prepares a cluster in opt.Root (created if missing): it loads or
// generates the secrets and attaches to processes a previous run left
// running (pidfiles). It starts nothing.
func New(opt Options) (*Cluster, error) {
	if opt.Peers == 0 {
		opt.Peers = DefaultPeers
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
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if opt.RepoRoot == "" {
		r, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		opt.RepoRoot = r
	}
	root, err := filepath.Abs(opt.Root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{opt: opt, Root: root, SecretFile: filepath.Join(root, "secrets.env")}
	if c.Secrets, err = LoadOrCreateSecrets(c.SecretFile); err != nil {
		return nil, err
	}
	kd, err := ReadDockerfile(filepath.Join(opt.RepoRoot, KuboDockerfile))
	if err != nil {
		return nil, err
	}
	cd, err := ReadDockerfile(filepath.Join(opt.RepoRoot, ClusterDockerfile))
	if err != nil {
		return nil, err
	}
	c.kuboEnv, c.clusterEnv = kd.Env, cd.Env
	if c.stackEnv, err = stackClusterEnv(opt.RepoRoot); err != nil {
		return nil, err
	}
	c.kuboCmd = upstreamKuboCmd
	if kd.Cmd != nil {
		c.kuboCmd = kd.Cmd
	}
	if kd.Entrypoint != nil && !strings.Contains(strings.Join(kd.Entrypoint, " "), "start_ipfs") {
		return nil, fmt.Errorf("%s: ENTRYPOINT %q is not upstream's start_ipfs, which localcluster emulates", KuboDockerfile, kd.Entrypoint)
	}
	c.clusterCmd = cd.Cmd
	if cd.Entrypoint != nil && !strings.Contains(strings.Join(cd.Entrypoint, " "), filepath.Base(clusterEntrypoint)) {
		return nil, fmt.Errorf("%s: ENTRYPOINT %q does not run %s", ClusterDockerfile, cd.Entrypoint, filepath.Base(clusterEntrypoint))
	}
	for i := range opt.Peers {
		dir := filepath.Join(root, fmt.Sprintf("node%d", i))
		p := &Peer{
			Index: i, IP: PeerIP(i), Dir: dir, c: c,
			IPFSPath:    filepath.Join(dir, "ipfs"),
			ClusterPath: filepath.Join(dir, "ipfs-cluster"),
			LogDir:      filepath.Join(dir, "logs"),
		}
		for _, d := range []string{p.IPFSPath, p.ClusterPath, p.LogDir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		p.kubo = loadProc(fmt.Sprintf("node%d kubo", i), p.pidfile("kubo"))
		p.cluster = loadProc(fmt.Sprintf("node%d cluster", i), p.pidfile("cluster"))
		c.Peers = append(c.Peers, p)
	}
	return c, nil
}

// Existing reports whether root holds a local cluster (its secrets file).
func Existing(root string) bool {
	_, err := os.Stat(filepath.Join(root, "secrets.env"))
	return err == nil
}

func (p *Peer) pidfile(name string) string { return filepath.Join(p.Dir, name+".pid") }

// PeerMultiaddrs is CLUSTER_PEER_MULTIADDRS: every peer's cluster swarm
// address in index order, without /p2p (the entrypoint derives the IDs).
func (c *Cluster) PeerMultiaddrs() string {
	var a []string
	for _, p := range c.Peers {
		a = append(a, p.ClusterSwarmAddr())
	}
	return strings.Join(a, ",")
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.opt.Log, "localcluster: "+format+"\n", args...)
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

// imageEnv turns Dockerfile ENV lines into NAME=value, leaving out those that
// describe the container's file system rather than behaviour.
func imageEnv(vars []EnvVar) []string {
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
	dirs := c.opt.Bin.Dirs()
	return "PATH=" + strings.Join(append(dirs, os.Getenv("PATH")), string(os.PathListSeparator))
}

// KuboEnv is the environment of peer p's kubo: the kubo Dockerfile's ENV
// lines, then the contract's paths and addresses for this peer.
func (c *Cluster) KuboEnv(p *Peer) []string {
	return mergeEnv(baseEnv(), imageEnv(c.kuboEnv), []string{
		c.pathEnv(),
		"IPFS_PATH=" + p.IPFSPath,
		"KUBO_API_ADDRESS=" + p.RPCAddr(),
		fmt.Sprintf("KUBO_GATEWAY_ADDRESS=/ip4/%s/tcp/%d", p.IP, KuboGatewayPort),
		fmt.Sprintf("KUBO_SWARM_ADDRESSES=/ip4/%s/tcp/%d,/ip4/%s/udp/%d/quic-v1", p.IP, KuboSwarmPort, p.IP, KuboSwarmPort),
		"KUBO_BOOTSTRAP=none",
		// Loopback is private too: without it in the allowed ranges the
		// server profile's filters stop the local kubo daemons from
		// dialling each other (the VPC ranges are the image's default).
		"KUBO_ALLOWED_PRIVATE_RANGES=" + allowedPrivateRanges,
	}, c.opt.KuboEnv)
}

// ClusterEnv is the environment of peer p's cluster container: the cluster
// Dockerfile's ENV lines, the generated secrets, then the contract's paths
// and addresses for this peer.
func (c *Cluster) ClusterEnv(p *Peer) []string {
	return mergeEnv(baseEnv(), imageEnv(c.clusterEnv), c.stackEnv, c.Secrets.Env(), []string{
		c.pathEnv(),
		"IPFS_CLUSTER_PATH=" + p.ClusterPath,
		"CLUSTER_PEER_INDEX=" + strconv.Itoa(p.Index),
		"CLUSTER_PEER_MULTIADDRS=" + c.PeerMultiaddrs(),
		"CLUSTER_BIND_ADDRESS=" + p.IP,
		"CLUSTER_IPFSHTTP_NODEMULTIADDRESS=" + p.RPCAddr(),
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

func openLog(path, what string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "\n===== localcluster: %s %s =====\n", what, time.Now().Format(time.RFC3339))
	return f, nil
}

// Start starts every peer that is not running and waits until every peer
// answers and sees all the others.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.checkBin(); err != nil {
		return err
	}
	errs := make([]error, len(c.Peers))
	var wg sync.WaitGroup
	for i, p := range c.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.startPeer(ctx, p)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, p := range c.Peers {
		if err := c.WaitPeerCount(ctx, p.Index, len(c.Peers)); err != nil {
			return err
		}
		if err := c.WaitAllocatable(ctx, p.Index, len(c.Peers)); err != nil {
			return err
		}
	}
	return nil
}

// WaitAllocatable waits until peer i holds a valid value of every metric
// from n peers: until then the allocator cannot place a pin with
// replication factor n (peers publish metrics every monitor ping interval).
func (c *Cluster) WaitAllocatable(ctx context.Context, i, n int) error {
	return c.pollClient(ctx, i, fmt.Sprintf("waiting for node%d to hold metrics of %d peers", i, n), func(cl *Client) error {
		mp, err := cl.MetricPeers(ctx)
		if err != nil {
			return err
		}
		if len(mp) == 0 {
			return errors.New("no metrics yet")
		}
		for name, peers := range mp {
			if len(peers) != n {
				return fmt.Errorf("metric %s from %d peers", name, len(peers))
			}
		}
		return nil
	})
}

// pollClient polls f with peer i's REST API client every half second until
// it succeeds or ctx ends.
func (c *Cluster) pollClient(ctx context.Context, i int, what string, f func(*Client) error) error {
	p, err := c.peer(i)
	if err != nil {
		return err
	}
	cl := p.Client()
	return poll(ctx, 500*time.Millisecond, what, nil, func() error { return f(cl) })
}

func (c *Cluster) checkBin() error {
	if c.opt.Bin == nil {
		return errors.New("localcluster: Options.Bin is required to start processes (EnsureBinaries)")
	}
	return nil
}

// StartPeer starts peer i's kubo (if not running) then its cluster peer, and
// waits until both answer. It does not wait for the other peers to see it.
func (c *Cluster) StartPeer(ctx context.Context, i int) error {
	if err := c.checkBin(); err != nil {
		return err
	}
	p, err := c.peer(i)
	if err != nil {
		return err
	}
	return c.startPeer(ctx, p)
}

func (c *Cluster) startPeer(ctx context.Context, p *Peer) error {
	if err := c.startKubo(ctx, p); err != nil {
		return err
	}
	return c.startCluster(ctx, p)
}

func (c *Cluster) peer(i int) (*Peer, error) {
	if i < 0 || i >= len(c.Peers) {
		return nil, fmt.Errorf("no peer %d (have 0..%d)", i, len(c.Peers)-1)
	}
	return c.Peers[i], nil
}

// StartKubo starts peer i's kubo alone (after KillKubo) and waits for it.
func (c *Cluster) StartKubo(ctx context.Context, i int) error {
	if err := c.checkBin(); err != nil {
		return err
	}
	p, err := c.peer(i)
	if err != nil {
		return err
	}
	return c.startKubo(ctx, p)
}

// checkFree fails early, with a useful message, when another process holds
// one of the peer's addresses.
func checkFree(ip string, ports ...int) error {
	for _, port := range ports {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is in use (another local cluster still running? `go run ./cmd/localcluster down`): %w", addr, err)
		}
		l.Close()
	}
	return nil
}

// startKubo emulates upstream's start_ipfs (kubo's bin/container_daemon):
// `ipfs init --profile=$IPFS_PROFILE` and the API/Gateway 0.0.0.0 settings
// only on a new repo, then every docker/kubo/container-init.d/*.sh in sorted
// order (executable ones run, others sourced), then `ipfs daemon` with the
// image's CMD arguments.
func (c *Cluster) startKubo(ctx context.Context, p *Peer) error {
	c.mu.Lock()
	running := p.kubo.alive()
	c.mu.Unlock()
	if running {
		return c.waitKubo(ctx, p)
	}
	if err := checkFree(p.IP, KuboSwarmPort, KuboRPCPort, KuboGatewayPort); err != nil {
		return fmt.Errorf("node%d kubo: %w", p.Index, err)
	}
	logf, err := openLog(p.KuboLog(), "start kubo")
	if err != nil {
		return err
	}
	defer logf.Close()
	env := c.KuboEnv(p)
	if err := KuboInit(ctx, c.opt.RepoRoot, c.opt.Bin.IPFS, p.IPFSPath, env, logf); err != nil {
		return fmt.Errorf("node%d kubo init (log %s): %w", p.Index, p.KuboLog(), err)
	}
	cmd := exec.Command(c.opt.Bin.IPFS, c.kuboCmd...)
	cmd.Dir = p.Dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	c.mu.Lock()
	p.kubo, err = startProc(fmt.Sprintf("node%d kubo", p.Index), p.pidfile("kubo"), cmd, c.opt.Detached)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.logf("node%d kubo started (pid %d)", p.Index, p.kubo.pid)
	return c.waitKubo(ctx, p)
}

// KuboInit prepares the repo at ipfsPath as the kubo image does on every
// start (see startKubo), writing the output to log.
func KuboInit(ctx context.Context, repoRoot, ipfs, ipfsPath string, env []string, log io.Writer) error {
	env = mergeEnv(env, []string{"IPFS_PATH=" + ipfsPath})
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = env
		cmd.Dir = ipfsPath
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
		}
		return nil
	}
	if err := run(ipfs, "version"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(ipfsPath, "config")); err == nil {
		fmt.Fprintf(log, "Found IPFS fs-repo at %s\n", ipfsPath)
	} else {
		args := []string{"init"}
		if prof := lookupEnv(env, "IPFS_PROFILE"); prof != "" {
			args = append(args, "--profile="+prof)
		}
		if err := run(ipfs, args...); err != nil {
			return err
		}
		if err := run(ipfs, "config", "Addresses.API", "/ip4/0.0.0.0/tcp/5001"); err != nil {
			return err
		}
		if err := run(ipfs, "config", "Addresses.Gateway", "/ip4/0.0.0.0/tcp/8080"); err != nil {
			return err
		}
		keyFile := filepath.Join(ipfsPath, "swarm.key")
		if k := lookupEnv(env, "IPFS_SWARM_KEY"); k != "" {
			if err := os.WriteFile(keyFile, []byte(k+"\n"), 0o400); err != nil {
				return err
			}
		}
		if kf := lookupEnv(env, "IPFS_SWARM_KEY_FILE"); kf != "" {
			b, err := os.ReadFile(kf)
			if err != nil {
				return err
			}
			os.Remove(keyFile)
			if err := os.WriteFile(keyFile, b, 0o400); err != nil {
				return err
			}
		}
	}
	scripts, err := InitScripts(repoRoot)
	if err != nil {
		return err
	}
	for _, s := range scripts {
		st, err := os.Stat(s)
		if err != nil {
			return err
		}
		if st.Mode()&0o111 != 0 {
			fmt.Fprintf(log, "Executing '%s'...\n", s)
			err = run(s)
		} else {
			fmt.Fprintf(log, "Sourcing '%s'...\n", s)
			err = run("/bin/sh", "-c", `set -e; . "$0"`, s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var shRE = regexp.MustCompile(`(?i)\.sh$`)

// InitScripts lists docker/kubo/container-init.d/*.sh (regular files and
// symlinks, case-insensitive suffix) in the byte order `sort -z` gives.
func InitScripts(repoRoot string) ([]string, error) {
	dir := filepath.Join(repoRoot, kuboEntrypointDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !shRE.MatchString(e.Name()) || !(e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0) {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

func lookupEnv(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// startCluster runs docker/ipfs-cluster/cluster-entrypoint.sh unchanged,
// with the image's CMD arguments.
func (c *Cluster) startCluster(ctx context.Context, p *Peer) error {
	c.mu.Lock()
	running := p.cluster.alive()
	c.mu.Unlock()
	if running {
		return c.waitCluster(ctx, p)
	}
	if err := checkFree(p.IP, ClusterRESTPort, ClusterSwarmPort); err != nil {
		return fmt.Errorf("node%d cluster: %w", p.Index, err)
	}
	logf, err := openLog(p.ClusterLog(), "start cluster peer")
	if err != nil {
		return err
	}
	defer logf.Close()
	script := filepath.Join(c.opt.RepoRoot, clusterEntrypoint)
	cmd := exec.Command(script, c.clusterCmd...)
	if st, err := os.Stat(script); err != nil {
		return err
	} else if st.Mode()&0o111 == 0 {
		cmd = exec.Command("/bin/sh", append([]string{script}, c.clusterCmd...)...)
	}
	cmd.Dir = p.Dir
	cmd.Env = c.ClusterEnv(p)
	cmd.Stdout, cmd.Stderr = logf, logf
	c.mu.Lock()
	p.cluster, err = startProc(fmt.Sprintf("node%d cluster", p.Index), p.pidfile("cluster"), cmd, c.opt.Detached)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.logf("node%d cluster peer started (pid %d)", p.Index, p.cluster.pid)
	return c.waitCluster(ctx, p)
}

var probe = &http.Client{Timeout: 3 * time.Second}

// poll calls f every interval until it returns nil, ctx ends or dead()
// reports the process gone.
func poll(ctx context.Context, interval time.Duration, what string, dead func() error, f func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		if last = f(); last == nil {
			return nil
		}
		if dead != nil {
			if err := dead(); err != nil {
				return fmt.Errorf("%s: %w (last: %v)", what, err, last)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), last)
		case <-t.C:
		}
	}
}

func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (c *Cluster) waitKubo(ctx context.Context, p *Peer) error {
	dead := func() error {
		if !p.kubo.alive() {
			return fmt.Errorf("kubo exited; end of %s:\n%s", p.KuboLog(), logTail(p.KuboLog(), 30))
		}
		return nil
	}
	return poll(ctx, 200*time.Millisecond, fmt.Sprintf("waiting for node%d kubo", p.Index), dead, func() error {
		resp, err := probe.Get(p.GatewayURL() + "/version")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("gateway /version: %s", resp.Status)
		}
		return nil
	})
}

// waitCluster waits for /health (204, no credentials) and then for /id to
// answer without error and with the kubo daemon attached.
func (c *Cluster) waitCluster(ctx context.Context, p *Peer) error {
	dead := func() error {
		if !p.cluster.alive() {
			return fmt.Errorf("cluster peer exited; end of %s:\n%s", p.ClusterLog(), logTail(p.ClusterLog(), 30))
		}
		return nil
	}
	what := fmt.Sprintf("waiting for node%d cluster peer", p.Index)
	err := poll(ctx, 200*time.Millisecond, what, dead, func() error {
		resp, err := probe.Get(p.RESTURL() + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("/health: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cl := p.Client()
	return poll(ctx, 250*time.Millisecond, what, dead, func() error {
		id, err := cl.ID(ctx)
		if err != nil {
			return err
		}
		if id.Error != "" {
			return errors.New(id.Error)
		}
		if id.IPFS.Error != "" || id.IPFS.ID == "" {
			return fmt.Errorf("kubo not attached: %q", id.IPFS.Error)
		}
		return nil
	})
}

// WaitPeerCount waits until peer i's `peers ls` lists n peers (itself
// included) without errors.
func (c *Cluster) WaitPeerCount(ctx context.Context, i, n int) error {
	return c.pollClient(ctx, i, fmt.Sprintf("waiting for node%d to see %d peers", i, n), func(cl *Client) error {
		peers, err := cl.Peers(ctx)
		if err != nil {
			return err
		}
		ok := 0
		for _, x := range peers {
			if x.Error == "" {
				ok++
			}
		}
		if ok != n {
			return fmt.Errorf("sees %d peers without error, %d in all", ok, len(peers))
		}
		return nil
	})
}

// StopPeer stops peer i gracefully: the cluster peer first (ECS stops the
// container that depends on the other first), then kubo; SIGTERM, then
// SIGKILL after the grace period.
func (c *Cluster) StopPeer(i int) error {
	p, err := c.peer(i)
	if err != nil {
		return err
	}
	c.mu.Lock()
	cl, kb := p.cluster, p.kubo
	c.mu.Unlock()
	k1, e1 := cl.stop(c.opt.StopGrace)
	k2, e2 := kb.stop(c.opt.StopGrace)
	for _, x := range []struct {
		what   string
		killed bool
	}{{"cluster peer", k1}, {"kubo", k2}} {
		if x.killed {
			c.logf("node%d %s did not stop within %s of SIGTERM: sent SIGKILL", i, x.what, c.opt.StopGrace)
		}
	}
	if cl.alive() || kb.alive() {
		return fmt.Errorf("node%d still running after stop", i)
	}
	return errors.Join(e1, e2)
}

// KillKubo sends SIGKILL to peer i's kubo only and waits until it is gone.
func (c *Cluster) KillKubo(i int) error {
	p, err := c.peer(i)
	if err != nil {
		return err
	}
	c.mu.Lock()
	kb := p.kubo
	c.mu.Unlock()
	if kb == nil {
		return fmt.Errorf("node%d kubo is not running", i)
	}
	return kb.kill()
}

// KillPeer sends SIGKILL to peer i's kubo and cluster peer at once (a task
// that disappears) and waits until both are gone.
func (c *Cluster) KillPeer(i int) error {
	p, err := c.peer(i)
	if err != nil {
		return err
	}
	c.mu.Lock()
	cl, kb := p.cluster, p.kubo
	c.mu.Unlock()
	if cl != nil {
		cl.signal(9)
	}
	if kb != nil {
		kb.signal(9)
	}
	return errors.Join(cl.kill(), kb.kill())
}

// Stop stops every peer (in parallel) gracefully.
func (c *Cluster) Stop() error {
	errs := make([]error, len(c.Peers))
	var wg sync.WaitGroup
	for i := range c.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.StopPeer(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Running reports whether any process of the cluster is alive.
func (c *Cluster) Running() bool {
	for _, p := range c.Peers {
		if p.kubo.alive() || p.cluster.alive() {
			return true
		}
	}
	return false
}

// KuboSwarmPeers returns the peer IDs peer i's kubo is connected to (kubo
// RPC swarm/peers).
func (c *Cluster) KuboSwarmPeers(ctx context.Context, i int) ([]string, error) {
	p, err := c.peer(i)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://%s:%d/api/v0/swarm/peers", p.IP, KuboRPCPort), nil)
	if err != nil {
		return nil, err
	}
	resp, err := probe.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("swarm/peers: %s", resp.Status)
	}
	var out struct {
		Peers []struct{ Peer string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	var ids []string
	for _, x := range out.Peers {
		ids = append(ids, x.Peer)
	}
	return ids, nil
}

// WaitKuboMesh waits until every running kubo is connected to every other
// running kubo. With no bootstrap peers the connections come from the
// cluster peers' ConnectSwarms, some seconds after they start; until then
// bitswap cannot fetch from another node.
func (c *Cluster) WaitKuboMesh(ctx context.Context) error {
	return poll(ctx, 500*time.Millisecond, "waiting for the kubo daemons to connect to each other", nil, func() error {
		ids := map[int]string{}
		for _, p := range c.Peers {
			if !p.kubo.alive() {
				continue
			}
			var id struct{ ID string }
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://%s:%d/api/v0/id", p.IP, KuboRPCPort), nil)
			resp, err := probe.Do(req)
			if err != nil {
				return err
			}
			err = json.NewDecoder(resp.Body).Decode(&id)
			resp.Body.Close()
			if err != nil {
				return err
			}
			ids[p.Index] = id.ID
		}
		for i := range ids {
			conn, err := c.KuboSwarmPeers(ctx, i)
			if err != nil {
				return err
			}
			for j, id := range ids {
				if j != i && !slices.Contains(conn, id) {
					return fmt.Errorf("node%d kubo not connected to node%d kubo", i, j)
				}
			}
		}
		return nil
	})
}
