package localedge_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/localedge"
)

const (
	user = "admin"
	pass = "local-edge-test-password"
	cid  = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
)

// loopback is 127.0.<LOCALCLUSTER_NET>.<host>, the network localcluster
// puts a cluster on: tests of several checkouts run side by side without
// sharing addresses.
func loopback(host int) string {
	n, _ := strconv.Atoi(os.Getenv("LOCALCLUSTER_NET"))
	if n <= 0 || n > 254 {
		n = 0
	}
	return fmt.Sprintf("127.0.%d.%d", n, host)
}

// peer is a fake cluster peer: /health (and the gateway's health path)
// answer as the flag says; everything else is counted and answered with
// the peer's name.
type peer struct {
	name    string
	srv     *httptest.Server
	healthy atomic.Bool
	hits    atomic.Int64
	mu      sync.Mutex
	last    *http.Request
	handler http.HandlerFunc
}

func newPeer(t *testing.T, name string) *peer {
	p := &peer{name: name}
	p.healthy.Store(true)
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case nodespec.RestAPIHealthPath:
			if p.healthy.Load() {
				w.WriteHeader(http.StatusNoContent)
			} else {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		case nodespec.EmptyDirectoryPath:
			if p.healthy.Load() {
				w.WriteHeader(http.StatusOK)
			} else {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		p.hits.Add(1)
		p.mu.Lock()
		p.last = r.Clone(r.Context())
		h := p.handler
		p.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("X-Frame-Options", "ALLOWALL")
		_, _ = fmt.Fprint(w, p.name)
	}))
	l, err := net.Listen("tcp", loopback(40)+":0")
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Listener = l
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

func startEdge(t *testing.T, peers []*peer, private bool) *localedge.Edge {
	t.Helper()
	var urls []string
	for _, p := range peers {
		urls = append(urls, p.srv.URL)
	}
	e, err := localedge.Start(t.Context(), localedge.Options{
		GatewayListen: loopback(41) + ":0", APIListen: loopback(41) + ":0",
		GatewayUpstreams: urls, APIUpstreams: urls,
		Username: user, Password: pass,
		PrivateGateway: private,
		HealthInterval: 200 * time.Millisecond,
		Log:            testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
	})
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func do(t *testing.T, method, url string, body io.Reader, auth bool) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestRoundRobinOverPeers(t *testing.T) {
	peers := []*peer{newPeer(t, "node0"), newPeer(t, "node1"), newPeer(t, "node2")}
	e := startEdge(t, peers, false)
	var got []string
	for range 6 {
		resp, body := do(t, http.MethodGet, e.APIURL()+"/id", nil, true)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /id: %d %s", resp.StatusCode, body)
		}
		got = append(got, body)
	}
	if want := "node0 node1 node2 node0 node1 node2"; strings.Join(got, " ") != want {
		t.Fatalf("answers came from %v, want %s", got, want)
	}
	// The cluster checks the same credentials again, as behind CloudFront.
	peers[0].mu.Lock()
	defer peers[0].mu.Unlock()
	if u, p, ok := peers[0].last.BasicAuth(); !ok || u != user || p != pass {
		t.Fatalf("the peer did not receive the viewer's Authorization header")
	}
}

func TestUnhealthyPeerIsSkipped(t *testing.T) {
	peers := []*peer{newPeer(t, "node0"), newPeer(t, "node1"), newPeer(t, "node2")}
	peers[1].healthy.Store(false)
	e := startEdge(t, peers, false)
	for range 6 {
		if _, body := do(t, http.MethodGet, e.APIURL()+"/id", nil, true); body == "node1" {
			t.Fatal("a peer failing its health check got a request")
		}
		if _, body := do(t, http.MethodGet, e.GatewayURL()+"/ipfs/"+cid, nil, false); body == "node1" {
			t.Fatal("a gateway failing its health check got a request")
		}
	}
	if peers[0].hits.Load() == 0 || peers[2].hits.Load() == 0 {
		t.Fatal("the healthy peers were not both used")
	}
	// A peer that refuses connections is skipped at once, and the request
	// still succeeds on another.
	peers[2].srv.Close()
	for range 4 {
		resp, body := do(t, http.MethodGet, e.APIURL()+"/id", nil, true)
		if resp.StatusCode != http.StatusOK || body != "node0" {
			t.Fatalf("with node2 down: %d %q, want 200 from node0", resp.StatusCode, body)
		}
	}
	// Back once it passes a health check.
	peers[1].healthy.Store(true)
	deadline := time.Now().Add(30 * time.Second)
	for peers[1].hits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("node1 got no request 30 s after it became healthy")
		}
		do(t, http.MethodGet, e.APIURL()+"/id", nil, true)
	}
}

func TestRefusesWithoutCredentials(t *testing.T) {
	p := newPeer(t, "node0")
	e := startEdge(t, []*peer{p}, false)
	resp, _ := do(t, http.MethodGet, e.APIURL()+"/id", nil, false)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("API without credentials: %d %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// The public gateway needs none; a private one does.
	if resp, _ := do(t, http.MethodGet, e.GatewayURL()+"/ipfs/"+cid, nil, false); resp.StatusCode != http.StatusOK {
		t.Fatalf("public gateway: %d", resp.StatusCode)
	}
	private := startEdge(t, []*peer{p}, true)
	if resp, _ := do(t, http.MethodGet, private.GatewayURL()+"/ipfs/"+cid, nil, false); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("private gateway without credentials: %d, want 401", resp.StatusCode)
	}
	if hits := p.hits.Load(); hits != 1 {
		t.Fatalf("the peer got %d requests, want only the public gateway's", hits)
	}
}

func TestRefusesBadPinRequest(t *testing.T) {
	p := newPeer(t, "node0")
	e := startEdge(t, []*peer{p}, false)
	resp, body := do(t, http.MethodDelete, e.APIURL()+"/pins/"+cid+"?replication-min=abc", nil, true)
	var answer struct{ Error, Parameter string }
	if err := json.Unmarshal([]byte(body), &answer); err != nil || resp.StatusCode != http.StatusBadRequest || answer.Parameter != "replication-min" {
		t.Fatalf("DELETE with replication-min=abc: %d %s, want 400 naming replication-min", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	if hits := p.hits.Load(); hits != 0 {
		t.Fatalf("the refused request reached the peer (%d hits)", hits)
	}
	if resp, _ := do(t, http.MethodDelete, e.APIURL()+"/pins/"+cid, nil, true); resp.StatusCode != http.StatusOK || p.hits.Load() != 1 {
		t.Fatalf("a good DELETE: %d, %d hits", resp.StatusCode, p.hits.Load())
	}
}

func TestAddsTheDistributionsHeaders(t *testing.T) {
	p := newPeer(t, "node0")
	e := startEdge(t, []*peer{p}, false)
	for name, c := range map[string]struct {
		url  string
		auth bool
		want []edgespec.Header
	}{
		"api":     {e.APIURL() + "/id", true, edgespec.APIHeaders.Headers()},
		"gateway": {e.GatewayURL() + "/ipfs/" + cid, false, edgespec.GatewayHeaders.Headers()},
	} {
		resp, _ := do(t, http.MethodGet, c.url, nil, c.auth)
		for _, h := range c.want {
			if got := resp.Header.Values(h.Name); len(got) != 1 || got[0] != h.Value {
				t.Errorf("%s: %s = %q, want %q", name, h.Name, got, h.Value)
			}
		}
	}
	// Cache-Control only fills in: the peer's own wins.
	p.mu.Lock()
	p.handler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
	}
	p.mu.Unlock()
	if resp, _ := do(t, http.MethodGet, e.APIURL()+"/id", nil, true); resp.Header.Get("Cache-Control") != "max-age=60" {
		t.Errorf("API Cache-Control %q, want the peer's", resp.Header.Get("Cache-Control"))
	}
}

func TestStreamsAnUploadIntact(t *testing.T) {
	p := newPeer(t, "node0")
	p.handler = func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		// The cluster reports add errors in this trailer, after the body.
		w.Header().Set("Trailer", "X-Stream-Error")
		_, _ = fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		w.Header().Set("X-Stream-Error", fmt.Sprintf("read error: %v", err))
	}
	e := startEdge(t, []*peer{p}, false)
	const size = 64 << 20
	pr, pw := io.Pipe()
	want := sha256.New()
	go func() {
		buf := make([]byte, 1<<20)
		for sent := 0; sent < size; sent += len(buf) {
			rand.Read(buf)
			want.Write(buf)
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
		_ = pw.Close()
	}()
	resp, body := do(t, http.MethodPost, e.APIURL()+"/add?stream-channels=true&cid-version=1", pr, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /add: %d %s", resp.StatusCode, body)
	}
	if exp := fmt.Sprintf("%d %s", size, hex.EncodeToString(want.Sum(nil))); body != exp {
		t.Fatalf("the peer received %q, want %q", body, exp)
	}
	if e := resp.Trailer.Get("X-Stream-Error"); e != "read error: <nil>" {
		t.Fatalf("trailer X-Stream-Error %q, want the peer's", e)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	_, err := localedge.Start(t.Context(), localedge.Options{APIUpstreams: []string{"ftp://x"}, GatewayFailoverUpstreams: []string{"http://y/path"}, GatewayListen: "nope"})
	if err == nil {
		t.Fatal("bad options accepted")
	}
	for _, want := range []string{"GatewayUpstreams", "ftp://x", "GatewayFailoverUpstreams", "http://y/path", "GatewayListen", "Password"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// With failover upstreams the gateway is an origin group: a GET the first
// region's peer answers 503 is answered by the second region's; the REST
// API keeps to its own upstreams.
func TestGatewayFailsOverToTheSecondRegion(t *testing.T) {
	first, second := newPeer(t, "node0"), newPeer(t, "node3")
	first.handler = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }
	e, err := localedge.Start(t.Context(), localedge.Options{
		GatewayListen: loopback(41) + ":0", APIListen: loopback(41) + ":0",
		GatewayUpstreams: []string{first.srv.URL}, GatewayFailoverUpstreams: []string{second.srv.URL},
		APIUpstreams: []string{first.srv.URL},
		Username:     user, Password: pass,
		Log: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	resp, body := do(t, http.MethodGet, e.GatewayURL()+"/ipfs/"+cid, nil, false)
	if resp.StatusCode != http.StatusOK || body != "node3" {
		t.Fatalf("GET through the gateway: %d %q, want 200 from node3", resp.StatusCode, body)
	}
	if resp, _ := do(t, http.MethodGet, e.APIURL()+"/id", nil, true); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /id through the API: %d, want the first region's 503", resp.StatusCode)
	}
	if first.hits.Load() != 2 || second.hits.Load() != 1 {
		t.Fatalf("hits: first region %d, second %d; want 2 and 1", first.hits.Load(), second.hits.Load())
	}
}
