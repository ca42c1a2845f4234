package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/smoketest"
)

// Waits that fit a cluster on this machine: a healthy one passes in
// seconds, and an unhealthy one should fail before a developer gives up.
const (
	localWait    = time.Minute
	localTimeout = 5 * time.Minute
)

// localOptions are the -local mode's flags, those of cmd/localcluster.
type localOptions struct {
	enabled bool
	root    string
	peers   int
	context contextFlag
}

// contextFlag collects -c key=value.
type contextFlag map[string]string

func (c contextFlag) String() string { return fmt.Sprint(map[string]string(c)) }
func (c contextFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	c[k] = val
	return nil
}

func (l *localOptions) flags(fs *flag.FlagSet) {
	l.context = contextFlag{}
	fs.BoolVar(&l.enabled, "local", false, "check the local cluster of cmd/localcluster through its local edge; no AWS call")
	fs.StringVar(&l.root, "root", localcluster.DefaultRoot, "-local: the local cluster's data directory")
	fs.IntVar(&l.peers, "peers", 0, "-local: the -peers given to localcluster up (default: nodeCount of the configuration)")
	fs.Var(l.context, "c", "-local: a cdk.json context override `key=value` given to localcluster up (repeatable)")
}

// check applies the local defaults and refuses the AWS-only flags.
func (l *localOptions) check(fs *flag.FlagSet, o *options) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"stack", "region", "role-arn"} {
		if set[name] {
			return fmt.Errorf("-%s does not apply with -local (no AWS call)", name)
		}
	}
	if !set["wait"] {
		o.wait = localWait
	}
	if !set["timeout"] {
		o.timeout = localTimeout
	}
	if o.timeout <= 0 || o.wait <= 0 {
		return errors.New("-timeout and -wait must be positive")
	}
	return nil
}

// runLocal is run's -local mode.
func runLocal(ctx context.Context, o options, stdout, stderr io.Writer, httpClient *http.Client) int {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	p := &printer{w: stdout}
	var c *localcluster.Cluster
	var cfg smoketest.Config
	ok := p.step("local-cluster", func() (string, error) {
		if !localcluster.Existing(o.local.root) {
			return "", fmt.Errorf("no local cluster in %s (start one with `go run ./cmd/localcluster up`)", o.local.root)
		}
		var err error
		c, err = localcluster.New(localcluster.Options{Root: o.local.root, Peers: o.local.peers, Context: o.local.context, Log: io.Discard})
		if err != nil {
			return "", err
		}
		if cfg, err = smoketest.LocalConfig(c); err != nil {
			return "", err
		}
		net := os.Getenv("LOCALCLUSTER_NET")
		if net == "" {
			net = "unset"
		}
		return fmt.Sprintf("%s: %d peers, edge %s and %s (LOCALCLUSTER_NET %s), credentials from %s",
			c.Root, len(c.Peers), cfg.GatewayURL, cfg.APIURL, net, c.SecretFile), nil
	})
	if !ok {
		return p.finish(stderr)
	}
	p.result(smoketest.LocalProcesses(c))
	if !c.EdgeRunning() {
		p.result(smoketest.Result{Name: "http-checks", Status: smoketest.Skipped, Detail: "the local edge is not running: nothing would answer"})
		return p.finish(stderr)
	}
	cfg.GatewayAuth = cfg.GatewayAuth || o.privateGateway
	cfg.Wait, cfg.HTTP, cfg.OnResult = o.wait, httpClient, p.result
	if _, err := smoketest.Run(ctx, cfg); err != nil {
		p.result(smoketest.Result{Name: "http-checks", Status: smoketest.Fail, Detail: err.Error()})
	}
	return p.finish(stderr)
}
