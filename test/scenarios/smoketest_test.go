package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/localedge"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/smoketest"
)

// front is where the smoke test reaches the cluster locally.
type front struct {
	name           string
	gateway, api   string
	privateGateway bool
}

// smokeFronts are the local stand-ins of a deployment's CloudFront URLs:
// the local edge (the real Lambda@Edge handler, ALB-like spreading over the
// peers, the distributions' headers), once with a public and once with a
// private gateway, and one peer straight, which tells an edge fault from a
// cluster fault.
func smokeFronts(t *testing.T, ctx context.Context, c *localcluster.Cluster) []front {
	public := startLocalEdge(t, ctx, c, false)
	private := startLocalEdge(t, ctx, c, true)
	return []front{
		{"local edge", public.GatewayURL(), public.APIURL(), false},
		{"local edge, private gateway", private.GatewayURL(), private.APIURL(), true},
		{"node0 straight", c.Peer(0).GatewayURL(), c.Peer(0).RESTURL(), false},
	}
}

// startLocalEdge starts a local edge in front of every peer, on host .10 of
// the peers' loopback network; it stops with the test.
func startLocalEdge(t *testing.T, ctx context.Context, c *localcluster.Cluster, privateGateway bool) *localedge.Edge {
	t.Helper()
	// Port 0: a public and a private edge side by side on host .10.
	opt := c.EdgeOptions()
	host := c.EdgeAddress() + ":0"
	opt.GatewayListen, opt.APIListen = host, host
	opt.PrivateGateway = privateGateway
	opt.Log = testLog{}
	return startEdgeWith(t, ctx, opt)
}

// startEdgeWith starts a local edge with opt; it stops with the test.
func startEdgeWith(t *testing.T, ctx context.Context, opt localedge.Options) *localedge.Edge {
	t.Helper()
	edge, err := localedge.Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := edge.Stop(); err != nil {
			t.Error(err)
		}
	})
	return edge
}

// The post-deploy smoke test (package smoketest, what cmd/smoketest runs
// through CloudFront) passes against the real daemons through each local
// front, with the CloudFront-only checks reported as skipped, and leaves
// nothing pinned on any peer.
func TestSmokeTestPassesLocally(t *testing.T) {
	ctx := scenarioCtx(t, 10*time.Minute)
	c := cluster(t, ctx)
	for _, f := range smokeFronts(t, ctx, c) {
		t.Run(f.name, func(t *testing.T) { smokeTest(t, ctx, c, f) })
	}
	requireRetrievable(t, ctx, c, everyone)
}

func smokeTest(t *testing.T, ctx context.Context, c *localcluster.Cluster, f front) {
	if f.privateGateway {
		// Else the run would not prove that the smoke test authenticates
		// to a private gateway.
		resp, err := http.Get(f.gateway + "/ipfs/" + nodespec.EmptyDirectoryCID + "/")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the private gateway answers %d without credentials, want 401", resp.StatusCode)
		}
	}
	// What `smoketest -local` runs, through this front.
	cfg, err := smoketest.LocalConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	cfg.GatewayURL, cfg.APIURL, cfg.GatewayAuth = f.gateway, f.api, f.privateGateway
	cfg.Wait, cfg.HTTP = 2*time.Minute, &http.Client{Timeout: time.Minute}
	results, err := smoketest.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var cid string
	for _, r := range results {
		t.Log(r)
		if strings.Contains(r.String(), c.Secrets.Password) {
			t.Errorf("%s carries the REST API password", r.Name)
		}
		want := smoketest.OK
		if r.Name == "cloudfront-cache-hit" {
			want = smoketest.Skipped
		}
		if r.Status != want {
			t.Errorf("%s: %s, want %s: %s", r.Name, r.Status, want, r.Detail)
		}
		if r.Name == "add" {
			cid, _, _ = strings.Cut(r.Detail, " ")
		}
	}
	if len(results) != 9 || cid == "" {
		t.Fatalf("%d results, want 9; added CID %q", len(results), cid)
	}
	// The unpin reached every peer's shared state, not only the one asked.
	for i, p := range c.Peers {
		waitFor(t, ctx, fmt.Sprintf("%s gone from node%d's pinset", cid, i), func() error {
			resp, err := p.Client().Do(ctx, http.MethodGet, "/allocations/"+cid, nil, "")
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				return fmt.Errorf("GET /allocations/%s: HTTP %d, want 404", cid, resp.StatusCode)
			}
			return nil
		})
	}
}

// `go run ./cmd/smoketest -local` as the README runs it, against a cluster
// that `localcluster up` started: it passes while everything runs, and
// fails naming the check when the edge or a peer is down.
func TestSmokeTestCommandLocal(t *testing.T) {
	ctx := scenarioCtx(t, 15*time.Minute)
	root := filepath.Join(dataRoot, "smoketest-cli")
	upCLI(t, ctx, root)
	smoke := func() (int, string) {
		return cli(t, ctx, "smoketest", "-local", "-root", root, "-wait", "20s")
	}
	line := func(out, check string) string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[1] == check {
				return l
			}
		}
		return ""
	}

	code, out := smoke()
	if code != 0 || !strings.Contains(out, "smoketest: passed") {
		t.Fatalf("healthy cluster: exit %d, want 0 and passed", code)
	}
	for _, check := range []string{"local-cluster", "local-processes", "api-refuses-missing-credentials", "api-refuses-wrong-credentials",
		"peers", "add", "pinned", "gateway", "gateway-raw-block", "unpin"} {
		if l := line(out, check); !strings.HasPrefix(l, "ok ") {
			t.Errorf("%s: %q, want ok", check, l)
		}
	}
	if l := line(out, "cloudfront-cache-hit"); !strings.HasPrefix(l, "skipped") {
		t.Errorf("cloudfront-cache-hit: %q, want skipped", l)
	}
	_, api := localClusterAt(t, root).EdgeURLs()
	if !strings.Contains(line(out, "local-cluster"), api) {
		t.Errorf("the run does not say it went through the local edge %s", api)
	}

	// The edge down (stopped by its pid, as a crash would leave it).
	stopByPidfile(t, filepath.Join(root, "edge.pid"))
	code, out = smoke()
	if code != 1 || !strings.Contains(out, "smoketest: FAILED") ||
		!strings.HasPrefix(line(out, "local-processes"), "FAIL") || !strings.Contains(line(out, "local-processes"), "the local edge") {
		t.Fatalf("edge down: exit %d; want 1 with local-processes FAIL naming the local edge", code)
	}
	mustCLI(t, ctx, "localcluster", "-root", root, "up")

	// One peer down: the process check and the peers check fail.
	mustCLI(t, ctx, "localcluster", "-root", root, "stop-peer", "1")
	code, out = smoke()
	if code != 1 || !strings.HasPrefix(line(out, "local-processes"), "FAIL") || !strings.Contains(line(out, "local-processes"), "node1 cluster peer") ||
		!strings.HasPrefix(line(out, "peers"), "FAIL") {
		t.Fatalf("node1 down: exit %d; want 1 with local-processes (node1) and peers FAIL", code)
	}
	mustCLI(t, ctx, "localcluster", "-root", root, "start-peer", "1")
}

// localClusterAt opens the local cluster in root without starting
// anything (its addresses and credentials).
func localClusterAt(t *testing.T, root string, overrides ...map[string]string) *localcluster.Cluster {
	t.Helper()
	opt := localcluster.Options{Root: root, RepoRoot: repoRoot}
	for _, o := range overrides {
		opt.Context = o
	}
	c, err := localcluster.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stopByPidfile sends SIGTERM to the process a pidfile names and waits
// until it is gone.
func stopByPidfile(t *testing.T, pidfile string) {
	t.Helper()
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still running 10 s after SIGTERM", pid)
		}
	}
}
