package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/proc"
)

// Starting, stopping and killing the peers' processes.

const clusterEntrypoint = "docker/ipfs-cluster/cluster-entrypoint.sh"

// Up brings the root to every peer and the local edge running and healthy,
// from whatever state it is in, as an operator's "make sure it runs" would:
// processes that run are left alone, dead ones (stale pidfiles included)
// start again, and an edge that serves another configuration or does not
// answer is replaced. Peers of the root beyond this configuration that
// still run are an error: the cluster would count them.
func (c *Cluster) Up(ctx context.Context) error {
	if len(c.others) > 0 {
		var names []string
		for _, p := range c.others {
			names = append(names, fmt.Sprintf("node%d", p.Index))
		}
		return fmt.Errorf("%s of %s still run but this configuration has %d peers: give the -c/-peers they were started with, or stop everything first (down)",
			strings.Join(names, ", "), c.Root, len(c.Peers))
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	return c.ensureEdge(ctx)
}

// Start starts every peer that is not running and waits until every peer
// answers and sees all the others.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.checkStart(); err != nil {
		return err
	}
	if err := c.ensureRegions(ctx); err != nil {
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
		if err := c.waitPeerCount(ctx, p.Index, len(c.Peers)); err != nil {
			return err
		}
		if err := c.waitAllocatable(ctx, p.Index, len(c.Peers)); err != nil {
			return err
		}
	}
	return nil
}

// checkStart fails unless the cluster may start peers: it needs the
// binaries, and the directories a read-only cluster did not create.
func (c *Cluster) checkStart() error {
	if c.opt.ReadOnly {
		return errors.New("localcluster: a cluster opened with Options.ReadOnly starts no peer")
	}
	return c.checkBin()
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
	return c.withPeer(i, func(p *Peer) error { return c.startPeer(ctx, p) })
}

// withPeer runs start on peer i once the binaries are known.
func (c *Cluster) withPeer(i int, start func(*Peer) error) error {
	if err := c.checkStart(); err != nil {
		return err
	}
	p, err := c.peer(i)
	if err != nil {
		return err
	}
	return start(p)
}

func (c *Cluster) startPeer(ctx context.Context, p *Peer) error {
	if err := c.startKubo(ctx, p); err != nil {
		return err
	}
	if err := c.startCluster(ctx, p); err != nil {
		return err
	}
	return c.startPinningService(ctx, p)
}

// startPinningService runs the Pinning Service API layer as the task's
// container does (the same binary and environment; its command is the
// binary alone) once the cluster peer answers, and waits for its health
// path.
func (c *Cluster) startPinningService(ctx context.Context, p *Peer) error {
	c.mu.Lock()
	running := p.psa.Alive()
	c.mu.Unlock()
	if !running {
		if err := checkFree(p.IP, nodespec.PinningServicePort); err != nil {
			return fmt.Errorf("node%d pinning-service: %w", p.Index, err)
		}
		logf, err := openLog(p.PinningServiceLog(), "start pinning-service")
		if err != nil {
			return err
		}
		defer func() { _ = logf.Close() }()
		cmd := exec.Command(c.opt.Bin.PinningService)
		cmd.Dir = p.Dir
		cmd.Env = c.pinningServiceEnv(p)
		cmd.Stdout, cmd.Stderr = logf, logf
		if c.opt.wrap != nil {
			c.opt.wrap(cmd)
		}
		c.mu.Lock()
		p.psa, err = proc.Start(fmt.Sprintf("node%d pinning-service", p.Index), p.pidfile("pinning-service"), cmd, c.opt.Detached)
		c.mu.Unlock()
		if err != nil {
			return err
		}
		c.logf("node%d pinning-service started (pid %d)", p.Index, p.psa.Pid())
	}
	health := fmt.Sprintf("http://%s:%d%s", p.IP, nodespec.PinningServicePort, nodespec.PinningServiceHealthPath)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := client.Get(health)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		if !p.psa.Alive() {
			return fmt.Errorf("node%d pinning-service exited (log %s)", p.Index, p.PinningServiceLog())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node%d pinning-service: %s does not answer 204: %w", p.Index, health, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StartKubo starts peer i's kubo alone (after KillKubo) and waits for it.
func (c *Cluster) StartKubo(ctx context.Context, i int) error {
	return c.withPeer(i, func(p *Peer) error { return c.startKubo(ctx, p) })
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
		_ = l.Close()
	}
	return nil
}

func openLog(path, what string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	_, _ = fmt.Fprintf(f, "\n===== localcluster: %s %s =====\n", what, time.Now().Format(time.RFC3339))
	return f, nil
}

// startKubo runs the kubo image's start script (kuboInit) and then `ipfs`
// with the image's CMD arguments.
func (c *Cluster) startKubo(ctx context.Context, p *Peer) error {
	c.mu.Lock()
	running := p.kubo.Alive()
	c.mu.Unlock()
	if running {
		c.logf("node%d kubo already running (pid %d)", p.Index, p.kubo.Pid())
		return c.waitKubo(ctx, p)
	}
	if err := c.ensureRegions(ctx); err != nil {
		return err
	}
	if err := c.checkFreeIn(p, nodespec.SwarmPort, nodespec.KuboRPCPort, nodespec.GatewayPort); err != nil {
		return fmt.Errorf("node%d kubo: %w", p.Index, err)
	}
	logf, err := openLog(p.KuboLog(), "start kubo")
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	env, _ := c.processEnv(p)
	wrap := c.wrapFor(p)
	if err := kuboInit(ctx, c.opt.RepoRoot, c.opt.Bin.IPFS, p.IPFSPath, env, logf, wrap); err != nil {
		return fmt.Errorf("node%d kubo init (log %s): %w", p.Index, p.KuboLog(), err)
	}
	cmd := exec.Command(c.opt.Bin.IPFS, c.kuboCmd...)
	cmd.Dir = p.Dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if wrap != nil {
		wrap(cmd)
	}
	c.mu.Lock()
	p.kubo, err = proc.Start(fmt.Sprintf("node%d kubo", p.Index), p.pidfile("kubo"), cmd, c.opt.Detached)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.logf("node%d kubo started (pid %d)", p.Index, p.kubo.Pid())
	return c.waitKubo(ctx, p)
}

// startCluster runs docker/ipfs-cluster/cluster-entrypoint.sh unchanged,
// with the image's CMD arguments.
func (c *Cluster) startCluster(ctx context.Context, p *Peer) error {
	err := c.startClusterOnce(ctx, p)
	c.mu.Lock()
	exited := err != nil && ctx.Err() == nil && p.cluster != nil && !p.cluster.Alive()
	c.mu.Unlock()
	if exited {
		// ECS starts a task again whose essential container exited; so
		// does this, once: ipfs-cluster v1.1.6 can crash at start when a
		// peer's RPC call arrives before its RPC client exists (a nil
		// pointer in go-libp2p-gorpc's makeCall, seen under load). A
		// peer that fails twice is a fault of its own.
		c.logf("node%d cluster peer exited while starting (%v); starting it once more, as ECS would", p.Index, err)
		err = c.startClusterOnce(ctx, p)
	}
	return err
}

func (c *Cluster) startClusterOnce(ctx context.Context, p *Peer) error {
	c.mu.Lock()
	running := p.cluster.Alive()
	c.mu.Unlock()
	if running {
		c.logf("node%d cluster peer already running (pid %d)", p.Index, p.cluster.Pid())
		return c.waitCluster(ctx, p)
	}
	if err := c.checkFreeIn(p, nodespec.RestAPIPort, nodespec.ClusterSwarmPort); err != nil {
		return fmt.Errorf("node%d cluster: %w", p.Index, err)
	}
	logf, err := openLog(p.ClusterLog(), "start cluster peer")
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	script := filepath.Join(c.opt.RepoRoot, clusterEntrypoint)
	cmd := exec.Command(script, c.clusterCmd...)
	if st, err := os.Stat(script); err != nil {
		return err
	} else if st.Mode()&0o111 == 0 {
		cmd = exec.Command("/bin/sh", append([]string{script}, c.clusterCmd...)...)
	}
	cmd.Dir = p.Dir
	if err := c.reloadSecrets(); err != nil {
		return err
	}
	_, cmd.Env = c.processEnv(p)
	cmd.Stdout, cmd.Stderr = logf, logf
	if wrap := c.wrapFor(p); wrap != nil {
		wrap(cmd)
	}
	c.mu.Lock()
	p.cluster, err = proc.Start(fmt.Sprintf("node%d cluster", p.Index), p.pidfile("cluster"), cmd, c.opt.Detached)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.logf("node%d cluster peer started (pid %d)", p.Index, p.cluster.Pid())
	return c.waitCluster(ctx, p)
}

// procs returns peer i's cluster and kubo processes (nil when not running).
func (c *Cluster) procs(i int) (cluster, kubo *proc.Proc, err error) {
	p, err := c.peer(i)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.cluster, p.kubo, nil
}

// stopPinningService stops peer p's Pinning Service API layer (first: it
// depends on the cluster peer).
func (c *Cluster) stopPinningService(p *Peer) error {
	c.mu.Lock()
	ps := p.psa
	c.mu.Unlock()
	if killed, err := ps.Stop(c.opt.StopGrace); err != nil {
		return err
	} else if killed {
		c.logf("node%d pinning-service did not stop within %s of SIGTERM: sent SIGKILL", p.Index, c.opt.StopGrace)
	}
	return nil
}

// StopPeer stops peer i gracefully: the cluster peer first (ECS stops the
// container that depends on the other first), then kubo; SIGTERM, then
// SIGKILL after the grace period.
func (c *Cluster) StopPeer(i int) error {
	cl, kb, err := c.procs(i)
	if err != nil {
		return err
	}
	if err := c.stopPinningService(c.Peers[i]); err != nil {
		return err
	}
	return c.stopPeer(i, cl, kb)
}

func (c *Cluster) stopPeer(i int, cl, kb *proc.Proc) error {
	if cl != nil || kb != nil {
		c.logf("waiting for node%d to stop (cluster peer pid %d, then kubo pid %d)...", i, cl.Pid(), kb.Pid())
	}
	k1, e1 := cl.Stop(c.opt.StopGrace)
	k2, e2 := kb.Stop(c.opt.StopGrace)
	for _, x := range []struct {
		what   string
		killed bool
	}{{"cluster peer", k1}, {"kubo", k2}} {
		if x.killed {
			c.logf("node%d %s did not stop within %s of SIGTERM: sent SIGKILL", i, x.what, c.opt.StopGrace)
		}
	}
	if cl.Alive() || kb.Alive() {
		return fmt.Errorf("node%d still running after stop", i)
	}
	return errors.Join(e1, e2)
}

// KillKubo sends SIGKILL to peer i's kubo only and waits until it is gone.
func (c *Cluster) KillKubo(i int) error {
	_, kb, err := c.procs(i)
	if err != nil {
		return err
	}
	if kb == nil {
		return fmt.Errorf("node%d kubo is not running", i)
	}
	return kb.Kill()
}

// KillPeer sends SIGKILL to peer i's kubo and cluster peer at once (a task
// that disappears) and waits until both are gone.
func (c *Cluster) KillPeer(i int) error {
	cl, kb, err := c.procs(i)
	if err != nil {
		return err
	}
	c.mu.Lock()
	ps := c.Peers[i].psa
	c.mu.Unlock()
	cl.Signal(syscall.SIGKILL)
	kb.Signal(syscall.SIGKILL)
	ps.Signal(syscall.SIGKILL)
	return errors.Join(cl.Kill(), kb.Kill(), ps.Kill())
}

// Stop stops every peer of the root (in parallel) gracefully: those of
// this configuration and any other it still runs (Others); then the link
// between two regions.
func (c *Cluster) Stop() error {
	all := append(slices.Clip(c.Peers), c.others...)
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for n, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.mu.Lock()
			cl, kb := p.cluster, p.kubo
			c.mu.Unlock()
			errs[n] = errors.Join(c.stopPinningService(p), c.stopPeer(p.Index, cl, kb))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.stopRegions()
}
