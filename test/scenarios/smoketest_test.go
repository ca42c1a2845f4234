package scenarios

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/smoketest"
)

// smokeFronts are the base URLs the smoke test goes through locally: one
// peer's gateway and REST API, where a deployment has CloudFront and the ALB.
func smokeFronts(c *localcluster.Cluster) (gateway, api string) {
	return c.Peers[0].GatewayURL(), c.Peers[0].RESTURL()
}

// The post-deploy smoke test (package smoketest, what cmd/smoketest runs
// through CloudFront) passes against the real daemons, with the
// CloudFront-only checks reported as skipped, and leaves nothing pinned.
func TestSmokeTestPassesLocally(t *testing.T) {
	ctx := scenarioCtx(t, 5*time.Minute)
	c := cluster(t, ctx)
	gateway, api := smokeFronts(c)
	results, err := smoketest.Run(ctx, smoketest.Config{
		GatewayURL: gateway, APIURL: api,
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
	requireRetrievable(t, ctx, c, everyone)
}
