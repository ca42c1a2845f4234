package smoketest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// fake plays an ipfs-cluster v1.1.6 REST API and a kubo v0.43 gateway for
// the parts the checks use, as the upstream code answers them: basic auth
// with 401, /peers as a stream of JSON objects, /add answering 200 with the
// outcome in the X-Stream-Error trailer, CIDv1 of a one-chunk add = raw
// sha2-256 of the bytes, /allocations 404 once unpinned, and the gateway's
// immutable Cache-Control. Its knobs make one thing wrong at a time.
type fake struct {
	user, pass string
	peers      []peerEntry

	mu      sync.Mutex
	content map[string][]byte // pinset: CID -> bytes

	// Misbehaviour.
	acceptNoAuth    bool   // 200 without credentials
	acceptWrongPass bool   // 200 for a wrong password
	addStreamError  string // trailer error after the CID line
	addCIDv0        bool   // answer a CIDv0 (dag-pb) name
	pinnedOn        int    // peers reporting "pinned" (default: all)
	flipByte        int    // >= 0: the gateway corrupts this offset
	cacheControl    string // "" = kubo's
	cloudFront      bool   // add X-Cache, Miss then Hit
	neverHit        bool   // X-Cache always Miss
	rawContentType  string // "" = kubo's
	ignoreDelete    bool   // DELETE answers 200 but the pin stays
	peersEcho       bool   // /peers answers 500 quoting the Authorization header
	hangPeers       bool   // /peers never answers
	hits            map[string]int
	deletes         int

	api, gw *httptest.Server
}

func newFake(t *testing.T, n int) *fake {
	f := &fake{user: "admin", pass: "s3cret-Pass-9f2", content: map[string][]byte{}, flipByte: -1, hits: map[string]int{}}
	for i := range n {
		p := peerEntry{ID: fmt.Sprintf("12D3KooWFakeClusterPeerXXXXXXXXXXXXXXXXXXXXXXXXXXXX%02d", i)}
		p.IPFS.ID = fmt.Sprintf("12D3KooWFakeKubo%02d", i)
		f.peers = append(f.peers, p)
	}
	f.pinnedOn = n
	f.api = httptest.NewServer(http.HandlerFunc(f.serveAPI))
	f.gw = httptest.NewServer(http.HandlerFunc(f.serveGateway))
	t.Cleanup(f.api.Close)
	t.Cleanup(f.gw.Close)
	return f
}

func (f *fake) config() Config {
	return Config{
		GatewayURL: f.gw.URL, APIURL: f.api.URL, Username: f.user, Password: f.pass,
		ExpectedPeers: len(f.peers), ReplicationFactorMin: 2, Wait: 3e9,
		CloudFront: f.cloudFront,
	}
}

func (f *fake) pinned() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.content)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "message": msg})
}

func (f *fake) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return f.acceptNoAuth
	}
	if u == f.user && p != f.pass && f.acceptWrongPass {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(u+":"+p), []byte(f.user+":"+f.pass)) == 1
}

func (f *fake) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		apiError(w, http.StatusUnauthorized, "unauthorized: access denied")
		return
	}
	if f.hangPeers && r.URL.Path == "/peers" {
		<-r.Context().Done()
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.Path
	switch {
	case path == "/id" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, f.peers[0])
	case path == "/peers" && r.Method == http.MethodGet:
		if f.peersEcho {
			apiError(w, http.StatusInternalServerError, "cannot handle "+r.Header.Get("Authorization")+" for "+f.pass)
			return
		}
		w.Header().Set("Trailer", "X-Stream-Error")
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		for _, p := range f.peers {
			enc.Encode(p)
		}
	case path == "/add" && r.Method == http.MethodPost:
		f.add(w, r)
	case strings.HasPrefix(path, "/pins/") && r.Method == http.MethodGet:
		c := strings.TrimPrefix(path, "/pins/")
		if _, ok := f.content[c]; !ok {
			apiError(w, http.StatusNotFound, "not found")
			return
		}
		pm := map[string]map[string]string{}
		for i, p := range f.peers {
			st := "pinning"
			if i < f.pinnedOn {
				st = "pinned"
			}
			pm[p.ID] = map[string]string{"peername": fmt.Sprint("node", i), "status": st, "error": ""}
		}
		writeJSON(w, http.StatusOK, map[string]any{"cid": c, "peer_map": pm})
	case strings.HasPrefix(path, "/pins/") && r.Method == http.MethodDelete:
		c := strings.TrimPrefix(path, "/pins/")
		f.deletes++
		if _, ok := f.content[c]; !ok {
			apiError(w, http.StatusNotFound, "not found")
			return
		}
		if !f.ignoreDelete {
			delete(f.content, c)
		}
		writeJSON(w, http.StatusOK, map[string]any{"cid": c})
	case strings.HasPrefix(path, "/allocations/") && r.Method == http.MethodGet:
		c := strings.TrimPrefix(path, "/allocations/")
		if _, ok := f.content[c]; !ok {
			apiError(w, http.StatusNotFound, "not found")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"cid": c})
	default:
		apiError(w, http.StatusNotFound, "404 page not found")
	}
}

// add answers like ipfs-cluster: headers first (200, trailer declared),
// then one JSON object per added node, then the trailer.
func (f *fake) add(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Trailer", "X-Stream-Error")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	part, err := mr.NextPart()
	if err != nil {
		w.Header().Set("X-Stream-Error", err.Error())
		return
	}
	data, _ := io.ReadAll(part)
	mh, _ := multihash.Sum(data, multihash.SHA2_256, -1)
	var c cid.Cid
	if r.URL.Query().Get("cid-version") == "1" && !f.addCIDv0 && len(data) <= 256<<10 {
		c = cid.NewCidV1(cid.Raw, mh)
	} else {
		c = cid.NewCidV0(mh) // not a real dag-pb hash, only a different name
	}
	json.NewEncoder(w).Encode(map[string]any{"name": part.FileName(), "cid": c.String(), "bytes": len(data), "size": len(data)})
	if f.addStreamError != "" {
		w.Header().Set("X-Stream-Error", f.addStreamError)
		return
	}
	f.content[c.String()] = data
}

func (f *fake) serveGateway(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := strings.CutPrefix(r.URL.Path, "/ipfs/")
	data, held := f.content[c]
	if !ok || !held {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	data = bytes.Clone(data)
	if f.flipByte >= 0 && f.flipByte < len(data) {
		data[f.flipByte] ^= 0x01
	}
	cc := f.cacheControl
	if cc == "" {
		cc = "public, max-age=29030400, immutable"
	}
	w.Header().Set("Cache-Control", cc)
	accept := r.Header.Get("Accept")
	if accept == rawContentType {
		ct := f.rawContentType
		if ct == "" {
			ct = rawContentType
		}
		w.Header().Set("Content-Type", ct)
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	if f.cloudFront {
		key := accept + " " + c
		f.hits[key]++
		if f.hits[key] == 1 || f.neverHit {
			w.Header().Set("X-Cache", "Miss from cloudfront")
		} else {
			w.Header().Set("X-Cache", "Hit from cloudfront")
		}
	}
	w.Write(data)
}
