package localedge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/psatoken"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/localedge"
)

// psaLayer stands in for the PSA layer (the psasvc service): 204 on its
// health path, 401 without the cluster's Basic credentials, as the real one
// answers; otherwise 200 naming the client the edge says it is.
type psaLayer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	clients []string
}

func newPSALayer(t *testing.T) *psaLayer {
	p := &psaLayer{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == localedge.PSAHealthPath {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if u, pw, ok := r.BasicAuth(); !ok || u != user || pw != pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		p.mu.Lock()
		p.clients = append(p.clients, r.Header.Get("X-Psa-Client"))
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{"count":0,"results":[]}`)
	}))
	l, err := net.Listen("tcp", loopback(42)+":0")
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Listener = l
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// rehearsalCacheTTL stands for the deployed function's 5 minutes.
const rehearsalCacheTTL = 1500 * time.Millisecond

// Runbook "Rotate the PSA token key / revoke a token", rehearsed against
// the local edge, which reads the token key secret from the local
// cluster's secrets file as the deployed function reads Secrets Manager:
// two clients get tokens with the REST API's credentials; one token is
// revoked (psatoken revoke, on the file), then the key is rotated
// (psatoken rotate). What the runbook promises:
//   - a revoked token is refused once the edge's cache expires, not before
//     a change is written and not after the cache time; the other token keeps
//     working; the REST API password and the peers are never touched;
//   - after a rotation every earlier token is refused and a new token works.
func TestRunbookRevokeAndRotatePSATokens(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secrets.env")
	secrets := fmt.Sprintf("%s=%s\n%s=%s\n%s=%s\n%s=%s\n",
		nodespec.IdentitySeedVariable, strings.Repeat("s", 64),
		nodespec.RestAPIUsernameVariable, user, nodespec.RestAPIPasswordVariable, pass,
		localcluster.PSATokenSecretVariable, psatoken.New())
	if err := os.WriteFile(file, []byte(secrets), 0o600); err != nil {
		t.Fatal(err)
	}
	rest := newPeer(t, "peer0")
	layer := newPSALayer(t)
	e, err := localedge.Start(t.Context(), localedge.Options{
		GatewayListen: loopback(43) + ":0", APIListen: loopback(43) + ":0",
		GatewayUpstreams: []string{rest.srv.URL}, APIUpstreams: []string{rest.srv.URL},
		PSAUpstreams: []string{layer.srv.URL},
		CredentialsFile: &localedge.CredentialsFile{
			Path: file, UsernameVar: nodespec.RestAPIUsernameVariable, PasswordVar: nodespec.RestAPIPasswordVariable,
			PSATokenSecretVar: localcluster.PSATokenSecretVariable,
		},
		CredentialsCacheTTL: rehearsalCacheTTL,
		HealthInterval:      200 * time.Millisecond,
		Log:                 testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	psa := e.APIURL() + nodespec.PinningServicePath

	type issued struct{ Token, ID, Name string }
	token := func(name string) issued {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, psa+"/token", strings.NewReader(fmt.Sprintf(`{"name":%q,"expires_in":3600}`, name)))
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var out issued
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.Token == "" {
			t.Fatalf("POST /psa/token: %s", resp.Status)
		}
		return out
	}
	status := func(tok issued) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, psa+"/pins?limit=10", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	// until polls tok until it answers want, and returns how long that took.
	until := func(tok issued, want int, bound time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < bound {
			if status(tok) == want {
				return time.Since(start)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s's token did not answer %d within %s", tok.Name, want, bound)
		return 0
	}

	alice, bob := token("alice"), token("bob")
	for _, tok := range []issued{alice, bob} {
		if s := status(tok); s != http.StatusOK {
			t.Fatalf("%s's fresh token: %d", tok.Name, s)
		}
	}
	layer.mu.Lock()
	if strings.Join(layer.clients, ",") != "alice,bob" {
		t.Errorf("the PSA layer was told the clients %v, want alice,bob", layer.clients)
	}
	layer.mu.Unlock()

	// Revoke alice's token, as `psatoken -local <file> revoke -token ...` does.
	ctx := context.Background()
	store := localcluster.PSATokenStore(file)
	claims, err := psatoken.ReadClaims(alice.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := psatoken.Update(ctx, store, func(s *psatoken.Secret) error { return s.Revoke(claims.ID, claims.Expiry, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	took := until(alice, http.StatusUnauthorized, rehearsalCacheTTL+2*time.Second)
	t.Logf("revoked token refused %s after the secret changed (cache %s)", took.Round(10*time.Millisecond), rehearsalCacheTTL)
	if took > rehearsalCacheTTL+500*time.Millisecond {
		t.Errorf("the revocation took %s, more than the cache time %s", took, rehearsalCacheTTL)
	}
	if s := status(bob); s != http.StatusOK {
		t.Errorf("bob's token after alice's revocation: %d", s)
	}
	// The REST API password and the peers were not touched.
	if resp, _ := do(t, http.MethodGet, e.APIURL()+"/id", nil, true); resp.StatusCode != http.StatusOK {
		t.Errorf("the REST API with its unchanged credentials: %d", resp.StatusCode)
	}
	if s, err := localcluster.ReadSecrets(file); err != nil || s.Password != pass {
		t.Errorf("the REST API password changed (%v)", err)
	}

	// Rotate the key, as `psatoken -local <file> rotate` does: every token goes.
	if err := psatoken.Update(ctx, store, func(s *psatoken.Secret) error { s.Rotate(); return nil }); err != nil {
		t.Fatal(err)
	}
	took = until(bob, http.StatusUnauthorized, rehearsalCacheTTL+2*time.Second)
	t.Logf("after the rotation, an earlier token was refused %s after the secret changed", took.Round(10*time.Millisecond))
	if s := status(alice); s != http.StatusUnauthorized {
		t.Errorf("alice's revoked token after the rotation: %d", s)
	}
	carol := token("carol")
	if s := status(carol); s != http.StatusOK {
		t.Errorf("a token issued after the rotation: %d", s)
	}
	value, err := store.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := psatoken.Parse(value); err != nil || len(s.Revoked) != 0 {
		t.Errorf("after a rotation the revoked list is empty: %v %v", s.Revoked, err)
	}
}
