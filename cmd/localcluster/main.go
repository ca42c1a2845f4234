// Command localcluster runs the project's images' scripts against real kubo
// and ipfs-cluster binaries: a three-peer IPFS Cluster on loopback
// (127.0.0.11-13, production ports), for trying the cluster and for fault
// drills, plus the add and pin-ingest benchmarks.
//
//	go run ./cmd/localcluster up            start the peers and the edge in the background (or whatever of them is not running)
//	go run ./cmd/localcluster status        processes, health, peers and pins
//	go run ./cmd/localcluster stop-peer N   stop peer N (0-based), data kept
//	go run ./cmd/localcluster start-peer N  start peer N again
//	go run ./cmd/localcluster down          stop every process of the root (data kept)
//	go run ./cmd/localcluster rotate-credentials  new REST API password (restart each peer after)
//	go run ./cmd/localcluster bench         add benchmark: ipfs-cluster-ctl add through the edge vs one kubo (fresh cluster)
//	go run ./cmd/localcluster bench pins    pin-ingest benchmark, shipped against upstream (fresh clusters)
//	go run ./cmd/localcluster build         only build/cache the binaries
//	go run ./cmd/localcluster dnslink add site.localhost /ipfs/<cid>
//	                                        a DNSLink record the peers resolve
//
// Flags (before the subcommand): -root DIR (default ./.localcluster),
// -peers N (default: cdk.json's nodeCount), -c key=value (a cdk.json context
// override, as for `cdk synth`: every peer gets the environment the node
// construct would give its task definition for that configuration).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

const usage = `usage: localcluster [-root DIR] [-peers N] [-c key=value ...] COMMAND

commands:
  up            build the binaries if needed, bring every peer and the local edge in front of them
                to running and healthy in the background (what runs and answers is left alone),
                print addresses
  down          stop the edge, the DNSLink responder and every peer of DIR, whatever -c and -peers
                say (SIGTERM, then SIGKILL); data and secrets stay in DIR
  status        show the edge and each peer: processes, health, peers and pins
  stop-peer N   stop peer N (0-based) gracefully; kill-peer N sends SIGKILL instead
  start-peer N  start peer N again from its data directory
  rotate-credentials
                write a new REST API password into DIR/secrets.env (the runbook's put-secret-value);
                each peer takes it when restarted, the edge when its credentials cache expires
  bench         add benchmark on a fresh temporary cluster (needs the ports free): ipfs-cluster-ctl add
                of 64 MiB through the edge until PINNED on every allocation, against ipfs add on one kubo
  bench pins [-n N] [-clients C] [-kill]
                pin-ingest benchmark: N pins (default 10000) by CID through the edge and straight to
                a peer, shipped configuration against upstream's defaults, with recovery times;
                -kill counts acknowledged pins lost when a peer is killed mid-ingest
  build         build and cache kubo, ipfs-cluster, cluster-identity and the region proxy, print their paths
  dnslink add HOST PATH | remove HOST | list
                the _dnslink records the peers resolve for names under localhost (websites)
`

func main() {
	fs := flag.NewFlagSet("localcluster", flag.ExitOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	root := fs.String("root", localcluster.DefaultRoot, "data directory of the local cluster")
	peers := fs.Int("peers", 0, "number of peers (default: nodeCount of the configuration)")
	runs := fs.Int("runs", 1, "bench: number of runs")
	var kuboEnv, clusterEnv, cdkContext multiFlag
	fs.Var(&cdkContext, "c", "override a cdk.json context `key=value`, as cdk synth -c does (repeatable): the peers get the environment a deployment with it would get")
	fs.Var(&kuboEnv, "kubo-env", "extra NAME=value for every kubo (repeatable; e.g. to try a setting before shipping it)")
	fs.Var(&clusterEnv, "cluster-env", "extra NAME=value for every cluster peer (repeatable, e.g. CLUSTER_CRDT_BATCHING_MAXBATCHAGE=1s)")
	_ = fs.Parse(os.Args[1:]) // ExitOnError: it exits instead of returning one
	if fs.NArg() < 1 {
		fs.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	extra := env{kubo: kuboEnv, cluster: clusterEnv, context: map[string]string{}, flags: os.Args[1 : len(os.Args)-fs.NArg()]}
	for _, kv := range cdkContext {
		k, v, _ := strings.Cut(kv, "=")
		extra.context[k] = v
	}
	if err := run(ctx, *root, *peers, *runs, extra, fs.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func peerArg(args []string) (int, error) {
	if len(args) != 2 {
		return 0, fmt.Errorf("%s needs a peer number", args[0])
	}
	return strconv.Atoi(args[1])
}

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q is not NAME=value", v)
	}
	*m = append(*m, v)
	return nil
}

type env struct {
	kubo, cluster []string
	context       map[string]string
	flags         []string // the global flags as given, for the stop hint
}

// stopHint is the down command that reaches the same root again: the
// global flags as given and the loopback network's variable.
func (e env) stopHint() string {
	var words []string
	if v, ok := os.LookupEnv(localcluster.NetEnv); ok {
		words = append(words, localcluster.NetEnv+"="+shellQuote(v))
	}
	words = append(words, "go", "run", "./cmd/localcluster")
	for _, f := range e.flags {
		words = append(words, shellQuote(f))
	}
	return strings.Join(append(words, "down"), " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func run(ctx context.Context, root string, peers, runs int, extra env, args []string) error {
	repo, err := localcluster.RepoRoot()
	if err != nil {
		return err
	}
	bins := func() (*localcluster.Binaries, error) {
		return localcluster.EnsureBinaries(ctx, repo, os.Stderr)
	}
	options := localcluster.Options{
		Root: root, Peers: peers, RepoRoot: repo, Log: os.Stderr,
		KuboEnv: extra.kubo, ClusterEnv: extra.cluster, Context: extra.context,
	}
	open := func(bin *localcluster.Binaries, detached bool) (*localcluster.Cluster, error) {
		o := options
		o.Bin, o.Detached = bin, detached
		return localcluster.New(o)
	}
	// look opens the root as it is for down, status, stop-peer and
	// kill-peer, which only look at and stop what exists: a -c or -peers
	// beyond the root's peers must not leave empty node directories behind.
	look := func() (*localcluster.Cluster, error) {
		o := options
		o.ReadOnly = true
		return localcluster.New(o)
	}
	switch args[0] {
	case "build":
		b, err := bins()
		if err != nil {
			return err
		}
		fmt.Printf("kubo %s: %s\nipfs-cluster %s: %s\n  %s\ncluster-identity: %s\nregionproxy: %s\n",
			b.Versions.Kubo, b.IPFS, b.Versions.Cluster, b.ClusterService, b.ClusterCtl, b.ClusterIdentity, b.RegionProxy)
		return nil

	case "up":
		b, err := bins()
		if err != nil {
			return err
		}
		c, err := open(b, true)
		if err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := c.Up(sctx); err != nil {
			return fmt.Errorf("%w\n(logs in %s/node*/logs and %s; stop what runs with: %s)", err, c.Root, c.EdgeLog(), extra.stopHint())
		}
		printInfo(c, b, extra.stopHint())
		return nil

	case "down":
		if !localcluster.Existing(root) {
			// Idempotent, as a second down is: nothing of this root runs.
			fmt.Printf("no local cluster in %s: nothing to stop\n", root)
			return nil
		}
		c, err := look()
		if err != nil {
			return err
		}
		if err := errors.Join(c.StopEdge(), c.StopDNSLink(), c.Stop()); err != nil {
			return err
		}
		fmt.Printf("stopped; data and secrets kept in %s (delete it for a new cluster)\n", c.Root)
		return nil

	case "status":
		if !localcluster.Existing(root) {
			return fmt.Errorf("no local cluster in %s", root)
		}
		c, err := look()
		if err != nil {
			return err
		}
		return status(ctx, c)

	case "stop-peer", "kill-peer":
		n, err := peerArg(args)
		if err != nil {
			return err
		}
		if !localcluster.Existing(root) {
			return fmt.Errorf("no local cluster in %s", root)
		}
		c, err := look()
		if err != nil {
			return err
		}
		if args[0] == "kill-peer" {
			err = c.KillPeer(n)
		} else {
			err = c.StopPeer(n)
		}
		if err != nil {
			return err
		}
		fmt.Printf("node%d stopped (data kept in %s)\n", n, c.Peer(n).Dir)
		return nil

	case "start-peer":
		n, err := peerArg(args)
		if err != nil {
			return err
		}
		b, err := bins()
		if err != nil {
			return err
		}
		c, err := open(b, true)
		if err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		if err := c.StartPeer(sctx, n); err != nil {
			return err
		}
		p := c.Peer(n)
		fmt.Printf("node%d started: REST API %s, gateway %s\n", n, p.RESTURL(), p.GatewayURL())
		return nil

	case "rotate-credentials":
		if !localcluster.Existing(root) {
			return fmt.Errorf("no local cluster in %s", root)
		}
		c, err := open(nil, false)
		if err != nil {
			return err
		}
		if err := c.RotatePassword(); err != nil {
			return err
		}
		fmt.Printf("new REST API password in %s: restart the peers one at a time (stop-peer N, start-peer N); the local edge reads it within its credentials cache time (5 min)\n", c.SecretFile)
		return nil
	case "dnslink":
		return dnslinkCommand(ctx, root, args[1:], func() (*localcluster.Cluster, error) { return open(nil, false) })

	case "bench":
		b, err := bins()
		if err != nil {
			return err
		}
		if len(args) > 1 && args[1] == "pins" {
			return benchPins(ctx, localcluster.Options{
				Peers: peers, RepoRoot: repo, Bin: b, Log: os.Stderr,
				KuboEnv: extra.kubo, ClusterEnv: extra.cluster, Context: extra.context,
			}, args[2:])
		}
		var results []*localcluster.BenchResult
		for i := range runs {
			tmp, err := os.MkdirTemp("", "localcluster-bench-")
			if err != nil {
				return err
			}
			bctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
			res, err := localcluster.RunBench(bctx, localcluster.Options{
				Root: filepath.Join(tmp, "cluster"), Peers: peers, RepoRoot: repo, Bin: b, Log: os.Stderr,
				KuboEnv: extra.kubo, ClusterEnv: extra.cluster, Context: extra.context,
			}, localcluster.BenchOptions{})
			cancel()
			if err != nil {
				return fmt.Errorf("run %d: %w (files kept in %s)", i+1, err, tmp)
			}
			_ = os.RemoveAll(tmp)
			fmt.Printf("run %d:\n", i+1)
			res.Print(os.Stdout)
			results = append(results, res)
		}
		if len(results) > 1 {
			fmt.Printf("over %d runs (best of %d in each):", len(results), localcluster.BenchRepeats)
			for _, m := range localcluster.AddModes {
				var ratios []string
				for _, r := range results {
					ratios = append(ratios, fmt.Sprintf("%.2f", r.Ratio(m.Name)))
				}
				fmt.Printf(" %s ratio %s;", m.Name, strings.Join(ratios, ", "))
			}
			fmt.Println()
		}
		return nil
	}
	return errors.New("unknown command " + strconv.Quote(args[0]) + "\n" + usage)
}

func printInfo(c *localcluster.Cluster, b *localcluster.Binaries, stopHint string) {
	fmt.Printf("local IPFS Cluster running (%d peers, data in %s):\n", len(c.Peers), c.Root)
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "  peer\tREST API (basic auth)\tgateway\tlogs")
	for _, p := range c.Peers {
		_, _ = fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", peerLabel(c, p), p.RESTURL(), p.GatewayURL(), p.LogDir)
	}
	gateway, api := c.EdgeURLs()
	behind := "every peer behind it"
	if c.TwoRegions() {
		behind = "the REST API on the first region's peers, the gateway failing over to the second's"
	}
	_, _ = fmt.Fprintf(w, "  edge\t%s\t%s\t(CloudFront + ALB stand-in: Lambda@Edge auth and checks, %s)\n", api, gateway, behind)
	_ = w.Flush()
	if c.TwoRegions() {
		fmt.Printf("two regions: the second's peers in their own network namespace, linked through the region proxy with a one-way delay of %s (%s; log %s)\n",
			c.RegionDelay(), localcluster.RegionDelayEnv, c.RegionProxyLog())
	}
	fmt.Printf("credentials: %s (RESTAPI_USERNAME / RESTAPI_PASSWORD; CLUSTER_IDENTITY_SEED derives every peer's identity)\n", c.SecretFile)
	fmt.Printf("each peer's Pinning Service API layer (the REST API's credentials, as the edge forwards them): %s, ...\n", c.Peers[0].PinningServiceURL())
	host := c.EdgeAddress()
	fmt.Printf("try, through the edge as a deployment is reached:\n  . %s\n  %s --host /ip4/%s/tcp/%d --force-http --basic-auth \"$RESTAPI_USERNAME:$RESTAPI_PASSWORD\" peers ls\n",
		c.SecretFile, b.ClusterCtl, host, nodespec.RestAPIPort)
	fmt.Printf("  %s --host /ip4/%s/tcp/%d --force-http --basic-auth \"$RESTAPI_USERNAME:$RESTAPI_PASSWORD\" add README.md\n",
		b.ClusterCtl, host, nodespec.RestAPIPort)
	fmt.Printf("  curl %s/ipfs/<cid>\n", gateway)
	fmt.Printf("  curl -u \"$RESTAPI_USERNAME:$RESTAPI_PASSWORD\" -d '{\"name\":\"me\"}' %s%s/token   # a Pinning Service API token for %s%s\n",
		api, nodespec.PinningServicePath, api, nodespec.PinningServicePath)
	fmt.Println("stop with:", stopHint)
}

func status(ctx context.Context, c *localcluster.Cluster) error {
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "peer\tkubo\tcluster\tREST API\tpeers seen\tpins (pinned here)")
	for _, p := range slices.Concat(c.Peers, c.Others()) {
		state := func(b bool) string {
			if b {
				return "running"
			}
			return "stopped"
		}
		seen, pins := "-", "-"
		if p.ClusterRunning() {
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			cl := p.Client()
			if ps, err := cl.Peers(qctx); err == nil {
				ok := 0
				for _, x := range ps {
					if x.Error == "" {
						ok++
					}
				}
				seen = strconv.Itoa(ok)
			} else {
				seen = "error: " + err.Error()
			}
			all, err1 := cl.Allocations(qctx)
			pinned, err2 := cl.StatusAll(qctx, "pinned", true)
			if err1 == nil && err2 == nil {
				pins = fmt.Sprintf("%d (%d)", len(all), len(pinned))
			}
			cancel()
		}
		_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", strings.TrimSpace(peerLabel(c, p)), state(p.KuboRunning()), state(p.ClusterRunning()), p.RESTURL(), seen, pins)
	}
	_ = w.Flush()
	for _, p := range c.Others() {
		fmt.Printf("node%d runs but is beyond this configuration's %d peers (started with more; down stops it)\n", p.Index, len(c.Peers))
	}
	fmt.Println(edgeStatus(ctx, c))
	if c.TwoRegions() {
		st := "stopped"
		if c.RegionProxyRunning() {
			st = fmt.Sprintf("running, one-way delay %s", c.RegionDelay())
		}
		fmt.Printf("region proxy (the only link between the regions): %s\n", st)
	}
	fmt.Printf("credentials: %s\n", c.SecretFile)
	return nil
}

// peerLabel names a peer, with its region when there are two.
func peerLabel(c *localcluster.Cluster, p *localcluster.Peer) string {
	if c.TwoRegions() {
		return fmt.Sprintf("node%d %s", p.Index, p.Region)
	}
	return fmt.Sprintf("node%d", p.Index)
}

func edgeStatus(ctx context.Context, c *localcluster.Cluster) string {
	gateway, api := c.EdgeURLs()
	line := fmt.Sprintf("edge: REST API %s, gateway %s: ", api, gateway)
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st := c.Edge(qctx)
	if st.Pid == 0 {
		return line + "stopped"
	}
	line += fmt.Sprintf("running (pid %d), ", st.Pid)
	if st.Health != nil {
		line += "unhealthy: " + st.Health.Error()
	} else {
		line += "healthy"
	}
	if !st.Current {
		line += "; started for another configuration (peers or credentials): up replaces it"
	}
	return line
}
