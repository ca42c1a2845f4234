package smoketest

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/smoketest/fakecluster"
)

type fake = fakecluster.Cluster

func newFake(t *testing.T, n int) *fake { return fakecluster.New(t, n) }

func config(f *fake) Config {
	return Config{
		GatewayURL: f.Gateway.URL, APIURL: f.API.URL, Username: f.User, Password: f.Pass,
		ExpectedPeers: len(f.Peers), ReplicationFactorMin: 2, Wait: 3 * time.Second,
		CloudFront: f.CloudFront,
	}
}

var order = []string{
	"api-refuses-missing-credentials", "api-refuses-wrong-credentials", "peers", "add",
	"pinned", "gateway", "cloudfront-cache-hit", "gateway-raw-block", "unpin",
}

func runFake(t *testing.T, f *fake, cfg Config) map[string]Result {
	t.Helper()
	rs, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	by := map[string]Result{}
	for _, r := range rs {
		t.Log(r)
		names = append(names, r.Name)
		by[r.Name] = r
	}
	if !slices.Equal(names, order) {
		t.Fatalf("checks ran as %v, want %v", names, order)
	}
	return by
}

func wantStatus(t *testing.T, by map[string]Result, name string, want Status) {
	t.Helper()
	if got := by[name]; got.Status != want {
		t.Errorf("%s: %s (%s), want %s", name, got.Status, got.Detail, want)
	}
}

func TestEveryCheckPassesAgainstAHealthyCluster(t *testing.T) {
	f := newFake(t, 3)
	by := runFake(t, f, config(f))
	for _, name := range order {
		want := OK
		if name == "cloudfront-cache-hit" {
			want = Skipped
		}
		wantStatus(t, by, name, want)
	}
	if d := by["cloudfront-cache-hit"].Detail; !strings.Contains(d, "not CloudFront") {
		t.Errorf("the skipped cache check does not say why: %q", d)
	}
	if f.Pinned() != 0 {
		t.Errorf("%d pins left after the run", f.Pinned())
	}
}

func TestCloudFrontCacheHit(t *testing.T) {
	f := newFake(t, 3)
	f.CloudFront = true
	by := runFake(t, f, config(f))
	for _, name := range order {
		wantStatus(t, by, name, OK)
	}
	if d := by["gateway"].Detail; !strings.Contains(d, "Miss from cloudfront") {
		t.Errorf("gateway detail %q does not show the first read's X-Cache", d)
	}

	f = newFake(t, 3)
	f.CloudFront, f.NeverHit = true, true
	by = runFake(t, f, config(f))
	wantStatus(t, by, "cloudfront-cache-hit", Fail)
	plain := 0
	reads, _ := f.Counts()
	for k, n := range reads {
		if strings.HasPrefix(k, " ") {
			plain += n
		}
	}
	if plain != 1+cacheReads {
		t.Errorf("%d plain reads, want 1 + %d", plain, cacheReads)
	}
}

// Each broken behaviour makes its check FAIL, and the run as a whole.
func TestEachFaultFailsItsCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(*fake)
		check  string
	}{
		{"200 without credentials", func(f *fake) { f.AcceptNoAuth = true }, "api-refuses-missing-credentials"},
		{"200 for a wrong password", func(f *fake) { f.AcceptWrongPass = true }, "api-refuses-wrong-credentials"},
		{"a missing peer", func(f *fake) { f.Peers = f.Peers[:2] }, "peers"},
		{"a peer with an error", func(f *fake) { f.Peers[1].Error = "context deadline exceeded" }, "peers"},
		{"a peer whose kubo is down", func(f *fake) { f.Peers[2].IPFS.Error = "connection refused" }, "peers"},
		{"a peer listed twice", func(f *fake) { f.Peers[2] = f.Peers[0] }, "peers"},
		{"an X-Stream-Error trailer", func(f *fake) { f.AddStreamError = "not enough peers to allocate CID" }, "add"},
		{"an unexpected CID", func(f *fake) { f.AddCIDv0 = true }, "add"},
		{"too few pinned", func(f *fake) { f.PinnedOn = 1 }, "pinned"},
		{"a wrong byte", func(f *fake) { f.FlipByte = Size / 2 }, "gateway"},
		{"a mutable Cache-Control", func(f *fake) { f.CacheControl = "public, max-age=60" }, "gateway"},
		{"a short max-age", func(f *fake) { f.CacheControl = "public, max-age=3600, immutable" }, "gateway"},
		{"a raw block with the wrong type", func(f *fake) { f.RawContentType = "application/octet-stream" }, "gateway-raw-block"},
		{"an unpin that does not unpin", func(f *fake) { f.IgnoreDelete = true }, "unpin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, 3)
			cfg := config(f)
			tc.break_(f)
			cfg.Wait = 1500 * time.Millisecond
			var streamed []Result
			cfg.OnResult = func(r Result) { streamed = append(streamed, r) }
			by := runFake(t, f, cfg)
			wantStatus(t, by, tc.check, Fail)
			if len(streamed) != len(order) {
				t.Errorf("OnResult saw %d results, want %d", len(streamed), len(order))
			}
			rs := make([]Result, 0, len(by))
			for _, r := range by {
				rs = append(rs, r)
			}
			if !Failed(rs) {
				t.Error("Failed says the run passed")
			}
		})
	}
}

// A failed add skips what depends on it, and the unpin still removes
// whatever the add may have pinned; a failure after the add leaves nothing
// pinned either.
func TestUnpinRunsAfterFailures(t *testing.T) {
	f := newFake(t, 3)
	f.AddStreamError = "boom"
	cfg := config(f)
	cfg.Wait = time.Second
	by := runFake(t, f, cfg)
	for _, name := range []string{"pinned", "gateway", "gateway-raw-block"} {
		wantStatus(t, by, name, Skipped)
	}
	if _, deletes := f.Counts(); deletes == 0 {
		t.Error("no DELETE after an add that answered a CID")
	}

	f = newFake(t, 3)
	f.FlipByte = 0
	cfg = config(f)
	cfg.Wait = time.Second
	by = runFake(t, f, cfg)
	wantStatus(t, by, "gateway", Fail)
	wantStatus(t, by, "unpin", OK)
	if f.Pinned() != 0 {
		t.Errorf("%d pins left after a failed gateway check", f.Pinned())
	}
}

// When the caller's context ends mid-run, the unpin still runs, bounded.
func TestUnpinRunsAfterTheContextEnds(t *testing.T) {
	f := newFake(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := config(f)
	cfg.OnResult = func(r Result) {
		if r.Name == "add" {
			cancel()
		}
	}
	rs, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	last := rs[len(rs)-1]
	if last.Name != "unpin" || last.Status != OK {
		t.Fatalf("last result %v, want an ok unpin", last)
	}
	if rs[4].Name != "pinned" || rs[4].Status != Fail {
		t.Errorf("pinned after the cancel: %v, want FAIL", rs[4])
	}
	if f.Pinned() != 0 {
		t.Errorf("%d pins left", f.Pinned())
	}
}

// A peer that never answers costs one Wait, not forever.
func TestWaitsAreBounded(t *testing.T) {
	f := newFake(t, 3)
	f.HangPeers = true
	cfg := config(f)
	cfg.Wait = time.Second
	start := time.Now()
	by := runFake(t, f, cfg)
	wantStatus(t, by, "peers", Fail)
	if d := by["peers"].Duration; d > 3*time.Second {
		t.Errorf("peers took %s with a 1 s bound", d)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the run took %s", d)
	}
}

// No result carries the password, even when the server quotes it.
func TestResultsNeverCarryThePassword(t *testing.T) {
	f := newFake(t, 3)
	f.PeersEcho = true
	cfg := config(f)
	cfg.Wait = time.Second
	by := runFake(t, f, cfg)
	wantStatus(t, by, "peers", Fail)
	basic := base64.StdEncoding.EncodeToString([]byte(f.User + ":" + f.Pass))
	for _, r := range by {
		for _, s := range []string{f.Pass, basic} {
			if strings.Contains(r.String(), s) {
				t.Errorf("%s carries a secret: %s", r.Name, r)
			}
		}
	}
	if !strings.Contains(by["peers"].Detail, "<redacted>") {
		t.Errorf("the quoted answer was not redacted: %q", by["peers"].Detail)
	}
}

func TestConfigIsValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no password", func(c *Config) { c.Password = "" }, "password"},
		{"credentials in the URL", func(c *Config) { c.APIURL = "https://u:p@example.com" }, "API URL"},
		{"not http", func(c *Config) { c.GatewayURL = "ftp://example.com" }, "gateway URL"},
		{"min above peers", func(c *Config) { c.ReplicationFactorMin = 4 }, "replication-factor-min 4"},
		{"no peers", func(c *Config) { c.ExpectedPeers = 0 }, "expected peers 0"},
		{"no bound", func(c *Config) { c.Wait = 0 }, "wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{GatewayURL: "https://g.example", APIURL: "https://a.example", Username: "u", Password: "p",
				ExpectedPeers: 3, ReplicationFactorMin: 2, Wait: time.Second}
			tc.edit(&cfg)
			_, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestTwoRegionsNeedACopyInEach: enough copies, all in one region, fail the
// pinned check; a copy in each passes it.
func TestTwoRegionsNeedACopyInEach(t *testing.T) {
	regions := map[string]string{"node0": "eu-west-1", "node1": "eu-west-1", "node2": "eu-west-1", "node3": "us-east-2", "node4": "us-east-2", "node5": "us-east-2"}

	f := newFake(t, 6)
	f.PinnedOn = 3 // node0..node2: the first region only
	cfg := config(f)
	cfg.PeerRegions = regions
	by := runFake(t, f, cfg)
	wantStatus(t, by, "pinned", Fail)
	if d := by["pinned"].Detail; !strings.Contains(d, "in no peer of us-east-2") {
		t.Errorf("the failure does not name the region without a copy: %q", d)
	}

	f = newFake(t, 6)
	cfg = config(f)
	cfg.PeerRegions = regions
	by = runFake(t, f, cfg)
	wantStatus(t, by, "pinned", OK)
	if d := by["pinned"].Detail; !strings.Contains(d, "in each of eu-west-1, us-east-2") {
		t.Errorf("detail %q does not name the regions", d)
	}

	cfg.ReplicationFactorMin = 1
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "across 2 regions") {
		t.Errorf("replication-factor-min 1 over two regions accepted: %v", err)
	}
}

// TestStandbyAPIIsTheSecondRegions: the REST API through the second region
// passes when a second-region peer answers, fails when a first-region one
// does.
func TestStandbyAPIIsTheSecondRegions(t *testing.T) {
	regions := map[string]string{"node0": "eu-west-1", "node1": "eu-west-1", "node2": "eu-west-1", "node3": "us-east-2", "node4": "us-east-2", "node5": "us-east-2"}
	for _, tc := range []struct {
		answeredBy int
		want       Status
	}{{4, OK}, {1, Fail}} {
		f := newFake(t, 6)
		cfg := config(f)
		cfg.PeerRegions = regions
		cfg.StandbyAPIURL, cfg.StandbyRegion = f.StandbyAPI(t, tc.answeredBy).URL, "us-east-2"
		rs, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got *Result
		for i := range rs {
			if rs[i].Name == "standby-api" {
				got = &rs[i]
			}
		}
		if got == nil || got.Status != tc.want {
			t.Errorf("answered by node%d: %v, want %s", tc.answeredBy, got, tc.want)
		}
	}
}
