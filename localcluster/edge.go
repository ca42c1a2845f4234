package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
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
// behind it, the cluster's credentials, the configuration's private
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
		CredentialsFile: &localedge.CredentialsFile{Path: c.SecretFile, UsernameVar: nodespec.RestAPIUsernameVariable, PasswordVar: nodespec.RestAPIPasswordVariable},
		PrivateGateway:  c.privateGateway,
		// Locally localhost is always a subdomain gateway and this one
		// listener also plays the websites distribution: the viewer's Host
		// reaches the peers, as it does in a deployment with
		// gatewaySubdomains or websiteDomains. A request by address (Host
		// 127.0.N.10:8080) still meets a plain path gateway.
		ForwardHost: true,
		Log:         c.opt.Log,
	}
	for _, p := range c.Peers {
		opt.GatewayUpstreams = append(opt.GatewayUpstreams, p.GatewayURL())
		opt.APIUpstreams = append(opt.APIUpstreams, p.RESTURL())
	}
	return opt
}

// StartEdge starts the local edge (package localedge) in front of every
// peer: the real Lambda@Edge viewer-request handler with this cluster's
// credentials, round-robin over the healthy peers, the distributions'
// response headers. With Options.Detached it outlives this program (stop
// it with StopEdge); otherwise it stops with it.
func (c *Cluster) StartEdge(ctx context.Context) (*localedge.Edge, error) {
	if existing := proc.Load("local edge", c.edgePidfile()); existing != nil {
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
		defer logFile.Close()
		opt.Log = logFile
	}
	e, err := localedge.Start(ctx, opt)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.edgePidfile(), []byte(strconv.Itoa(e.Pid())+"\n"), 0o644); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// StopEdge stops a local edge a previous StartEdge left running; none
// running is fine.
func (c *Cluster) StopEdge() error {
	p := proc.Load("local edge", c.edgePidfile())
	if p == nil {
		return nil
	}
	defer os.Remove(c.edgePidfile())
	if _, err := p.Stop(5 * time.Second); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
