package localcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/proc"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/localedge"
)

// The local edge listens on the peers' network, host .10 (the peers are
// .11, .12, ...), on the ports the load balancer listens on: what CloudFront
// reaches in a deployment is what a local client reaches here.
const edgeHost = 10

// EdgeAddress is the local edge's IP address.
func (c *Cluster) EdgeAddress() string {
	ip := net.ParseIP(c.Peers[0].IP).To4()
	return net.IPv4(ip[0], ip[1], ip[2], edgeHost).String()
}

// EdgeURLs are the local edge's gateway and REST API base URLs.
func (c *Cluster) EdgeURLs() (gateway, api string) {
	host := c.EdgeAddress()
	return "http://" + net.JoinHostPort(host, strconv.Itoa(nodespec.GatewayPort)),
		"http://" + net.JoinHostPort(host, strconv.Itoa(nodespec.RestAPIPort))
}

func (c *Cluster) edgePidfile() string { return filepath.Join(c.Root, "edge.pid") }

// EdgeLog is where a detached local edge writes its log.
func (c *Cluster) EdgeLog() string { return filepath.Join(c.Root, "edge.log") }

// EdgeOptions are the local edge's options for this cluster: every peer
// behind it (with two regions, the REST API only the first region's, where
// the deployment's API distribution sends the writes, and the gateway an
// origin group: the first region's peers, failing over to the second's),
// the cluster's credentials, the configuration's private
// gateway, listening on EdgeURLs. Callers may change the listeners (port 0)
// or the gateway's privacy before localedge.Start.
func (c *Cluster) EdgeOptions() localedge.Options {
	gateway, api := c.EdgeURLs()
	opt := localedge.Options{
		RepoRoot:      c.opt.RepoRoot,
		GatewayListen: strings.TrimPrefix(gateway, "http://"),
		APIListen:     strings.TrimPrefix(api, "http://"),
		// The secrets file, read again whenever the handler's cache
		// expires: a rotation reaches the local edge as it reaches
		// CloudFront.
		CredentialsFile: &localedge.CredentialsFile{
			Path: c.SecretFile, UsernameVar: nodespec.RestAPIUsernameVariable, PasswordVar: nodespec.RestAPIPasswordVariable,
			PSATokenSecretVar: PSATokenSecretVariable,
		},
		PrivateGateway: c.privateGateway,
		// Locally localhost is always a subdomain gateway and this one
		// listener also plays the websites distribution: the viewer's Host
		// reaches the peers, as it does in a deployment with
		// gatewaySubdomains or websiteDomains. A request by address (Host
		// 127.0.N.10:8080) still meets a plain path gateway.
		ForwardHost: true,
		Log:         c.opt.Log,
	}
	for _, p := range c.Peers {
		if c.InSecondRegion(p.Index) {
			opt.GatewayFailoverUpstreams = append(opt.GatewayFailoverUpstreams, p.GatewayURL())
			continue
		}
		opt.GatewayUpstreams = append(opt.GatewayUpstreams, p.GatewayURL())
		opt.APIUpstreams = append(opt.APIUpstreams, p.RESTURL())
		// The peer's Pinning Service API layer, as the ALB's PSA target
		// group reaches it.
		opt.PSAUpstreams = append(opt.PSAUpstreams, fmt.Sprintf("http://%s:%d", p.IP, nodespec.PinningServicePort))
	}
	return opt
}

// StartEdge starts the local edge (package localedge) in front of every
// peer: the real Lambda@Edge viewer-request handler with this cluster's
// credentials, round-robin over the healthy peers, the distributions'
// response headers. With Options.Detached it outlives this program (stop
// it with StopEdge); otherwise it stops with it. It fails when an edge of
// this root is running (Up replaces or keeps one as needed).
func (c *Cluster) StartEdge(ctx context.Context) (*localedge.Edge, error) {
	if existing := proc.Load(edgeName, c.edgePidfile()); existing != nil {
		return nil, fmt.Errorf("a local edge is already running (pid %d; `localcluster down` stops it)", existing.Pid())
	}
	opt := c.EdgeOptions()
	opt.Detached = c.opt.Detached
	if c.opt.Detached {
		// A detached edge outlives this program: its log goes to a file,
		// never to our stderr, which would then stay open for it.
		logFile, err := os.OpenFile(c.EdgeLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer func() { _ = logFile.Close() }()
		opt.Log = logFile
	}
	e, err := localedge.Start(ctx, opt)
	if err != nil {
		return nil, err
	}
	if _, err := proc.Adopt(edgeName, c.edgePidfile(), e.Pid()); err != nil {
		_ = e.Stop()
		return nil, err
	}
	if err := os.WriteFile(c.edgeServesFile(), []byte(c.edgeServes()+"\n"), 0o644); err != nil {
		_ = e.Stop()
		return nil, err
	}
	c.logf("local edge started (pid %d)", e.Pid())
	return e, nil
}

// EdgeRunning reports whether a local edge that StartEdge left running
// (detached, the CLI's up) still runs.
func (c *Cluster) EdgeRunning() bool {
	return proc.Load(edgeName, c.edgePidfile()).Alive()
}

const edgeName = "local edge"

// edgeServesFile records what the running edge was started with.
func (c *Cluster) edgeServesFile() string { return filepath.Join(c.Root, "edge.serves") }

// edgeServes sums up what an edge serves (listeners, peers, where its
// credentials come from, gateway privacy): an edge started with another
// sum serves another configuration (fewer peers) and must be replaced. A
// rotated password needs no new edge: it reads the secrets file again when
// its cache expires, as the deployed authenticator does.
func (c *Cluster) edgeServes() string {
	opt := c.EdgeOptions()
	opt.Log = nil
	b, err := json.Marshal(opt)
	if err != nil {
		panic(err) // plain values only
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// EdgeState is what is known of the root's local edge.
type EdgeState struct {
	Pid int // 0: not running
	// Current: it was started for this configuration (peers,
	// credentials); otherwise Up replaces it.
	Current bool
	// Health is nil when the edge answers the health checks the ALB asks
	// of the peers, through itself and with the cluster's credentials.
	Health error
}

// Edge reports the root's local edge, asking it for its health when it runs.
func (c *Cluster) Edge(ctx context.Context) EdgeState {
	p := proc.Load(edgeName, c.edgePidfile())
	if p == nil {
		return EdgeState{Health: errors.New("not running")}
	}
	b, _ := os.ReadFile(c.edgeServesFile())
	return EdgeState{Pid: p.Pid(), Current: strings.TrimSpace(string(b)) == c.edgeServes(), Health: c.edgeHealth(ctx)}
}

// edgeHealth asks the edge for what the ALB's health checks ask a peer
// (the REST API's health path and the gateway's empty directory), with the
// credentials, so that a private gateway answers too.
func (c *Cluster) edgeHealth(ctx context.Context) error {
	gateway, api := c.EdgeURLs()
	for _, x := range []struct {
		url  string
		want int
	}{{api + nodespec.RestAPIHealthPath, localedge.APIHealthyStatus}, {gateway + nodespec.EmptyDirectoryPath, localedge.GatewayHealthyStatus}} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, x.url, nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth(c.Secrets.Username, c.Secrets.Password)
		resp, err := probe.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != x.want {
			return fmt.Errorf("%s: %s", x.url, resp.Status)
		}
	}
	return nil
}

// existingEdgeGrace is how long a running edge may take to find the peers
// healthy again (a round of its health checks) before Up replaces it.
const existingEdgeGrace = 3 * localedge.DefaultHealthInterval

// ensureEdge keeps a running edge that serves this configuration and
// answers; any other is stopped and a new one started.
func (c *Cluster) ensureEdge(ctx context.Context) error {
	if st := c.Edge(ctx); st.Pid != 0 {
		if !st.Current {
			c.logf("the local edge (pid %d) serves another configuration (peers or credentials): replacing it", st.Pid)
		} else {
			gctx, cancel := context.WithTimeout(ctx, existingEdgeGrace)
			err := c.poll(gctx, 200*time.Millisecond, fmt.Sprintf("waiting for the local edge (pid %d) to become healthy", st.Pid), nil,
				func() error { return c.edgeHealth(gctx) })
			cancel()
			if err == nil {
				c.logf("local edge already running and healthy (pid %d)", st.Pid)
				return nil
			}
			c.logf("the local edge (pid %d) is not healthy (%v): replacing it", st.Pid, err)
		}
		if err := c.StopEdge(); err != nil {
			return err
		}
	}
	e, err := c.StartEdge(ctx)
	if err != nil {
		return fmt.Errorf("starting the local edge: %w", err)
	}
	c.edge = e
	return c.poll(ctx, 200*time.Millisecond, "waiting for the local edge to become healthy", nil,
		func() error { return c.edgeHealth(ctx) })
}

// StopEdge stops a local edge a previous StartEdge left running; none
// running is fine.
func (c *Cluster) StopEdge() error {
	defer func() { _ = os.Remove(c.edgeServesFile()) }()
	p := proc.Load(edgeName, c.edgePidfile())
	if p == nil {
		return nil
	}
	c.logf("waiting for the local edge (pid %d) to stop...", p.Pid())
	if _, err := p.Stop(5 * time.Second); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
