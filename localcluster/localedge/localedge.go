// Package localedge runs, in front of a local cluster, the small Node.js
// front of lambda-edge/local-edge/server.mjs that plays CloudFront and the
// internal ALB: the real Lambda@Edge viewer-request handler on the REST API
// (and on the gateway when it is private), round-robin over the healthy
// peers with the ALB's health checks, and the response headers of the
// distributions (constructs/edge/edgespec). So the HTTP checks of a
// deployment run against local daemons too.
package localedge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// ServerScript is the Node.js program, relative to the repository root.
const ServerScript = "lambda-edge/local-edge/server.mjs"

// PSAHealthPath is the PSA layer's health check path (the ALB's).
const PSAHealthPath = nodespec.PinningServicePath + "/health"

// Health checks of the ALB's target groups (constructs/loadbalancer).
const (
	GatewayHealthyStatus = 200
	APIHealthyStatus     = 204
	// PSAHealthyStatus on PSAHealthPath: the PSA layer's health check,
	// without credentials.
	PSAHealthyStatus = 204
	// DefaultHealthInterval is shorter than the ALB's 15 s: local tests
	// restart peers and should not wait for the next round.
	DefaultHealthInterval = 2 * time.Second
	// DefaultListen binds a free port on loopback.
	DefaultListen = "127.0.0.1:0"
	startTimeout  = 30 * time.Second
	stopGrace     = 5 * time.Second
)

// Options configure a local edge. Only plain values: the caller decides
// where the peers and the credentials come from.
type Options struct {
	// RepoRoot is the checkout holding lambda-edge/ (default: the nearest
	// directory above the working directory that has ServerScript).
	RepoRoot string
	// Node is the node binary (default: "node" from PATH).
	Node string
	// GatewayListen and APIListen are host:port to listen on; port 0 picks
	// a free one (default DefaultListen).
	GatewayListen, APIListen string
	// GatewayUpstreams and APIUpstreams are the peers' base URLs
	// (http://host:port), at least one each.
	GatewayUpstreams, APIUpstreams []string
	// GatewayFailoverUpstreams, if any, make the gateway an origin group,
	// as the gateway distribution has with a second region: a GET, HEAD
	// or OPTIONS that GatewayUpstreams answer with 500, 502, 503 or 504,
	// or that none of them takes, goes to these (the second region's
	// load balancer) instead.
	GatewayFailoverUpstreams []string `json:",omitempty"`
	// PSAUpstreams are the peers' Pinning Service API layers
	// (http://host:nodespec.PinningServicePort). When set, the API listener
	// sends every request under nodespec.PinningServicePath/ to them, as the
	// API distribution's /psa/* behaviour does, health-checked on
	// PSAHealthPath. Empty: /psa goes to the REST API like any other path.
	PSAUpstreams []string
	// Username and Password are the REST API credentials the viewer-request
	// handler checks (the local stand-in for the Secrets Manager secret).
	// They reach the Node process on its stdin only. Set them or
	// CredentialsFile.
	Username, Password string
	// PSATokenSecret is the token key secret's JSON (package psatoken)
	// with Username and Password; with CredentialsFile, its
	// PSATokenSecretVar names it in the file instead. Without either /psa
	// answers 503, as the deployed function does without its secret.
	PSATokenSecret string
	// CredentialsFile, instead of Username and Password, is a KEY=value file
	// the handler reads the credentials from, and reads again whenever its
	// cache expires, as the deployed function re-reads its secret: a
	// rotation then reaches the edge as it reaches CloudFront.
	CredentialsFile *CredentialsFile
	// CredentialsCacheTTL is how long the handler reuses credentials it read
	// (default: the deployed function's, 5 minutes).
	CredentialsCacheTTL time.Duration
	// PrivateGateway runs the handler on the gateway too, as the gateway
	// distribution does with privateGateway=true.
	PrivateGateway bool
	// ForwardHost passes the viewer's Host to the gateway peers instead of
	// the upstream's, as the gateway distribution does with
	// gatewaySubdomains (and the websites distribution always): kubo then
	// serves <cid>.ipfs.localhost and DNSLink hosts. X-Forwarded-Host,
	// which kubo would prefer, is dropped, as CloudFront does.
	ForwardHost bool
	// HealthInterval between active health checks (default
	// DefaultHealthInterval).
	HealthInterval time.Duration
	// Detached leaves the edge running after this program exits (its own
	// session; stop it by its Pid). Otherwise it stops when this program
	// does: it exits when its stdin, held open by this process, closes.
	Detached bool
	// Log receives the edge's own lines: health changes, failures (never
	// the credentials). Nil discards them.
	Log io.Writer
}

// CredentialsFile names the file and the variables that hold the REST API
// username and password.
type CredentialsFile struct {
	Path        string `json:"path"`
	UsernameVar string `json:"usernameVar"`
	PasswordVar string `json:"passwordVar"`
	// PSATokenSecretVar, optional, names the variable holding the PSA token
	// key secret's JSON.
	PSATokenSecretVar string `json:"tokenSecretVar,omitempty"`
}

// Edge is a running local edge.
type Edge struct {
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	gatewayURL string
	apiURL     string
	done       chan struct{}
	waitErr    error
}

type site struct {
	Listen        string            `json:"listen"`
	Upstreams     []string          `json:"upstreams"`
	Failover      []string          `json:"failover,omitempty"`
	HealthPath    string            `json:"healthPath"`
	HealthyStatus int               `json:"healthyStatus"`
	Headers       []edgespec.Header `json:"headers"`
	ForwardHost   bool              `json:"forwardHost,omitempty"`
}

type config struct {
	Gateway          site              `json:"gateway"`
	API              site              `json:"api"`
	PSA              *site             `json:"psa,omitempty"`
	TokenSecret      json.RawMessage   `json:"tokenSecret,omitempty"`
	PrivateGateway   bool              `json:"privateGateway"`
	Credentials      map[string]string `json:"credentials,omitempty"`
	CredentialsFile  *CredentialsFile  `json:"credentialsFile,omitempty"`
	CredentialsTTLMs int64             `json:"credentialsCacheTtlMs,omitempty"`
	HealthIntervalMs int64             `json:"healthIntervalMs"`
	ExitOnStdinEnd   bool              `json:"exitOnStdinEnd"`
}

func (o *Options) validate() error {
	var problems []string
	check := func(field string, urls []string) {
		if len(urls) == 0 {
			problems = append(problems, field+": at least one upstream URL is required")
		}
		for _, u := range urls {
			p, err := url.Parse(u)
			if err != nil || p.Scheme != "http" || p.Host == "" || (p.Path != "" && p.Path != "/") {
				problems = append(problems, fmt.Sprintf("%s: %q is not http://host:port", field, u))
			}
		}
	}
	check("GatewayUpstreams", o.GatewayUpstreams)
	if len(o.GatewayFailoverUpstreams) > 0 {
		check("GatewayFailoverUpstreams", o.GatewayFailoverUpstreams)
	}
	check("APIUpstreams", o.APIUpstreams)
	if len(o.PSAUpstreams) > 0 {
		check("PSAUpstreams", o.PSAUpstreams)
	}
	if o.PSATokenSecret != "" && (o.CredentialsFile != nil || !json.Valid([]byte(o.PSATokenSecret))) {
		problems = append(problems, "PSATokenSecret: JSON, with Username and Password only (with CredentialsFile, name it there)")
	}
	for field, addr := range map[string]string{"GatewayListen": o.GatewayListen, "APIListen": o.APIListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not host:port", field, addr))
		}
	}
	switch f := o.CredentialsFile; {
	case f != nil && (o.Username != "" || o.Password != ""):
		problems = append(problems, "CredentialsFile: set it or Username and Password, not both")
	case f != nil && (!filepath.IsAbs(f.Path) || f.UsernameVar == "" || f.PasswordVar == ""):
		problems = append(problems, "CredentialsFile: an absolute Path and both variable names are required")
	case f == nil && (o.Username == "" || o.Password == ""):
		problems = append(problems, "Username and Password (or CredentialsFile): required (the viewer-request handler fails closed without them)")
	}
	if o.CredentialsCacheTTL < 0 {
		problems = append(problems, "CredentialsCacheTTL: must not be negative")
	}
	if len(problems) > 0 {
		return errors.New("localedge.Options: " + strings.Join(problems, "; "))
	}
	return nil
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, ServerScript)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("localedge: no %s above the working directory; set Options.RepoRoot", ServerScript)
		}
		dir = parent
	}
}

// Start starts the edge and returns once both listeners accept requests
// (after a first round of health checks), or ctx ends.
func Start(ctx context.Context, opt Options) (*Edge, error) {
	if opt.GatewayListen == "" {
		opt.GatewayListen = DefaultListen
	}
	if opt.APIListen == "" {
		opt.APIListen = DefaultListen
	}
	if opt.HealthInterval <= 0 {
		opt.HealthInterval = DefaultHealthInterval
	}
	if opt.Node == "" {
		opt.Node = "node"
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if err := opt.validate(); err != nil {
		return nil, err
	}
	if opt.RepoRoot == "" {
		root, err := findRepoRoot()
		if err != nil {
			return nil, err
		}
		opt.RepoRoot = root
	}
	node, err := exec.LookPath(opt.Node)
	if err != nil {
		return nil, fmt.Errorf("localedge: Node.js (a prerequisite of the project): %w", err)
	}
	var credentials map[string]string
	if opt.CredentialsFile == nil {
		credentials = map[string]string{"username": opt.Username, "password": opt.Password}
	}
	var psa *site
	if len(opt.PSAUpstreams) > 0 {
		psa = &site{
			Upstreams: opt.PSAUpstreams, HealthPath: PSAHealthPath, HealthyStatus: PSAHealthyStatus,
			Headers: edgespec.APIHeaders.Headers(),
		}
	}
	var tokenSecret json.RawMessage
	if opt.PSATokenSecret != "" {
		tokenSecret = json.RawMessage(opt.PSATokenSecret)
	}
	cfg, err := json.Marshal(config{
		Gateway: site{
			Listen: opt.GatewayListen, Upstreams: opt.GatewayUpstreams, Failover: opt.GatewayFailoverUpstreams,
			HealthPath: nodespec.EmptyDirectoryPath, HealthyStatus: GatewayHealthyStatus,
			Headers:     edgespec.GatewayHeaders.Headers(),
			ForwardHost: opt.ForwardHost,
		},
		API: site{
			Listen: opt.APIListen, Upstreams: opt.APIUpstreams,
			HealthPath: nodespec.RestAPIHealthPath, HealthyStatus: APIHealthyStatus,
			Headers: edgespec.APIHeaders.Headers(),
		},
		PSA:              psa,
		TokenSecret:      tokenSecret,
		PrivateGateway:   opt.PrivateGateway,
		Credentials:      credentials,
		CredentialsFile:  opt.CredentialsFile,
		CredentialsTTLMs: opt.CredentialsCacheTTL.Milliseconds(),
		HealthIntervalMs: opt.HealthInterval.Milliseconds(),
		ExitOnStdinEnd:   !opt.Detached,
	})
	if err != nil {
		return nil, err
	}

	cmd := exec.Command(node, filepath.Join(opt.RepoRoot, ServerScript))
	cmd.Dir = opt.RepoRoot
	cmd.Stderr = opt.Log
	// Its own process group (a terminal's Ctrl-C reaches only us; Stop
	// decides), or its own session when it is to outlive us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !opt.Detached, Setsid: opt.Detached}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localedge: starting %s: %w", node, err)
	}
	e := &Edge{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
				continue
			}
			_, _ = fmt.Fprintln(opt.Log, sc.Text())
		}
		if first {
			close(lines)
		}
	}()
	go func() {
		e.waitErr = cmd.Wait()
		close(e.done)
	}()

	// The config (with the credentials) goes over stdin, never argv or env.
	if _, err := stdin.Write(append(cfg, '\n')); err != nil {
		e.kill()
		return nil, fmt.Errorf("localedge: sending the config: %w", err)
	}
	if opt.Detached {
		_ = stdin.Close()
	}
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-lines:
		var urls struct{ Gateway, API string }
		if !ok || json.Unmarshal([]byte(line), &urls) != nil || urls.Gateway == "" || urls.API == "" {
			e.kill()
			<-e.done
			return nil, fmt.Errorf("localedge: the server did not start (%v); its log went to Options.Log", e.waitErr)
		}
		e.gatewayURL, e.apiURL = urls.Gateway, urls.API
		return e, nil
	case <-ctx.Done():
		e.kill()
		return nil, ctx.Err()
	case <-timer.C:
		e.kill()
		return nil, fmt.Errorf("localedge: not listening after %s", startTimeout)
	}
}

// GatewayURL is the gateway's base URL (the gateway distribution's part).
func (e *Edge) GatewayURL() string { return e.gatewayURL }

// APIURL is the REST API's base URL (the API distribution's part).
func (e *Edge) APIURL() string { return e.apiURL }

// Pid is the Node process (for a detached edge's pidfile).
func (e *Edge) Pid() int { return e.cmd.Process.Pid }

func (e *Edge) kill() {
	_ = e.stdin.Close()
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	_ = e.cmd.Process.Kill()
}

// Stop ends the edge: stdin closed (it closes its listeners and exits),
// then SIGTERM, then SIGKILL if it lingers.
func (e *Edge) Stop() error {
	_ = e.stdin.Close()
	for _, sig := range []syscall.Signal{0, syscall.SIGTERM, syscall.SIGKILL} {
		if sig != 0 {
			_ = e.cmd.Process.Signal(sig)
		}
		select {
		case <-e.done:
			if sig == syscall.SIGKILL {
				return errors.New("localedge: the server had to be killed")
			}
			var exit *exec.ExitError
			if errors.As(e.waitErr, &exit) {
				return fmt.Errorf("localedge: the server exited with %v", e.waitErr)
			}
			return nil
		case <-time.After(stopGrace):
		}
	}
	return errors.New("localedge: the server survived SIGKILL")
}
