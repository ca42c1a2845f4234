package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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
		{"node0 straight", c.Peers[0].GatewayURL(), c.Peers[0].RESTURL(), false},
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
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the private gateway answers %d without credentials, want 401", resp.StatusCode)
		}
	}
	results, err := smoketest.Run(ctx, smoketest.Config{
		GatewayURL: f.gateway, APIURL: f.api, GatewayAuth: f.privateGateway,
		Username: c.Secrets.Username, Password: c.Secrets.Password,
		ExpectedPeers: len(c.Peers), ReplicationFactorMin: replicationMin(t, c),
		Wait: 2 * time.Minute, HTTP: &http.Client{Timeout: time.Minute},
	})
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
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				return fmt.Errorf("GET /allocations/%s: HTTP %d, want 404", cid, resp.StatusCode)
			}
			return nil
		})
	}
}
