package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// Waiting until the peers' processes, the cluster and the kubo mesh are
// ready.

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

// poll is the package's poll that tells the log, once, what it waits for
// when the first try does not succeed: a start that waits minutes says why.
func (c *Cluster) poll(ctx context.Context, interval time.Duration, what string, dead func() error, f func() error) error {
	first := true
	return poll(ctx, interval, what, dead, func() error {
		err := f()
		if err != nil && first {
			c.logf("%s...", what)
		}
		first = false
		return err
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
	return c.poll(ctx, 500*time.Millisecond, what, nil, func() error { return f(cl) })
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
		if !p.kubo.Alive() {
			return fmt.Errorf("kubo exited; end of %s:\n%s", p.KuboLog(), logTail(p.KuboLog(), 30))
		}
		return nil
	}
	return c.poll(ctx, 200*time.Millisecond, fmt.Sprintf("waiting for node%d kubo to answer", p.Index), dead, func() error {
		resp, err := probe.Get(p.GatewayURL() + "/version")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
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
		if !p.cluster.Alive() {
			return fmt.Errorf("cluster peer exited; end of %s:\n%s", p.ClusterLog(), logTail(p.ClusterLog(), 30))
		}
		return nil
	}
	err := c.poll(ctx, 200*time.Millisecond, fmt.Sprintf("waiting for node%d cluster peer to become healthy", p.Index), dead, func() error {
		resp, err := probe.Get(p.RESTURL() + "/health")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("/health: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cl := p.Client()
	return c.poll(ctx, 250*time.Millisecond, fmt.Sprintf("waiting for node%d cluster peer to attach to its kubo", p.Index), dead, func() error {
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

// waitPeerCount waits until peer i's `peers ls` lists n peers (itself
// included) without errors.
func (c *Cluster) waitPeerCount(ctx context.Context, i, n int) error {
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

// waitAllocatable waits until peer i holds a valid value of every metric
// from n peers: until then the allocator cannot place a pin with
// replication factor n (peers publish metrics every monitor ping interval).
func (c *Cluster) waitAllocatable(ctx context.Context, i, n int) error {
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

// waitKuboMesh waits until every running kubo is connected to every other
// running kubo. With no bootstrap peers the connections come from the
// cluster peers' ConnectSwarms, some seconds after they start; until then
// bitswap cannot fetch from another node.
func (c *Cluster) waitKuboMesh(ctx context.Context) error {
	return c.poll(ctx, 500*time.Millisecond, "waiting for the kubo daemons to connect to each other", nil, func() error {
		ids := map[int]string{}
		for _, p := range c.Peers {
			if !p.kubo.Alive() {
				continue
			}
			id, err := newKuboClient(p.IP, probe.Timeout).ID(ctx)
			if err != nil {
				return err
			}
			ids[p.Index] = id
		}
		for i := range ids {
			conn, err := newKuboClient(c.Peer(i).IP, probe.Timeout).SwarmPeers(ctx)
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
