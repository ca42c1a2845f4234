// Package fakecluster is a test double of an IPFS Cluster behind its fronts
// for the smoke test's unit tests: an ipfs-cluster v1.1.6 REST API and a
// kubo v0.43 gateway, each an httptest server, answering the requests the
// smoke test makes the way the upstream code does. Its fields make one thing
// wrong at a time.
package fakecluster

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Peer is one /peers object (the fields of api.ID the smoke test reads).
type Peer struct {
	ID       string `json:"id"`
	PeerName string `json:"peername"`
	Error    string `json:"error"`
	IPFS     struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"ipfs"`
}

const rawContentType = "application/vnd.ipld.raw"

// Cluster answers as upstream does: basic auth with 401, /peers as a stream
// of JSON objects, /add answering 200 with the outcome in the X-Stream-Error
// trailer, CIDv1 of a one-chunk add = raw sha2-256 of the bytes,
// /allocations 404 once unpinned, and the gateway's immutable
// Cache-Control. Set the misbehaviour fields before the first request.
type Cluster struct {
	User, Pass string
	Peers      []Peer

	mu      sync.Mutex
	content map[string][]byte // pinset: CID -> bytes

	// Misbehaviour.

	AcceptNoAuth    bool   // 200 without credentials
	AcceptWrongPass bool   // 200 for a wrong password
	AddStreamError  string // trailer error after the CID line
	AddCIDv0        bool   // answer a CIDv0 (dag-pb) name
	PinnedOn        int    // peers reporting "pinned" (default: all)
	FlipByte        int    // >= 0: the gateway corrupts this offset
	CacheControl    string // "" = kubo's
	CloudFront      bool   // add X-Cache, Miss then Hit
	NeverHit        bool   // X-Cache always Miss
	RawContentType  string // "" = kubo's
	IgnoreDelete    bool   // DELETE answers 200 but the pin stays
	PeersEcho       bool   // /peers answers 500 quoting the Authorization header
	HangPeers       bool   // /peers never answers

	// Reads counts the gateway's answers by "<Accept> <cid>".
	Reads map[string]int
	// Deletes counts DELETE /pins requests.
	Deletes int

	API, Gateway *httptest.Server
}

// New starts a healthy cluster of n peers; its servers close when the test
// ends.
func New(t testing.TB, n int) *Cluster {
	f := &Cluster{User: "admin", Pass: "s3cret-Pass-9f2", content: map[string][]byte{}, FlipByte: -1, Reads: map[string]int{}}
	for i := range n {
		p := Peer{ID: fmt.Sprintf("12D3KooWFakeClusterPeerXXXXXXXXXXXXXXXXXXXXXXXXXXXX%02d", i), PeerName: fmt.Sprint("node", i)}
		p.IPFS.ID = fmt.Sprintf("12D3KooWFakeKubo%02d", i)
		f.Peers = append(f.Peers, p)
	}
	f.PinnedOn = n
	f.API = httptest.NewServer(http.HandlerFunc(f.serveAPI))
	f.Gateway = httptest.NewServer(http.HandlerFunc(f.serveGateway))
	t.Cleanup(f.API.Close)
	t.Cleanup(f.Gateway.Close)
	return f
}

// StandbyAPI is a second REST API front (a second region's) with the same
// credentials, whose /id is answered by peer index.
func (f *Cluster) StandbyAPI(t testing.TB, index int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.authorized(r) {
			apiError(w, http.StatusUnauthorized, "unauthorized: access denied")
			return
		}
		if r.URL.Path != "/id" {
			apiError(w, http.StatusNotFound, "not found")
			return
		}
		writeJSON(w, http.StatusOK, f.Peers[index])
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Pinned is the number of CIDs in the pinset.
func (f *Cluster) Pinned() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.content)
}

// Counts returns Reads and Deletes as they are now.
func (f *Cluster) Counts() (reads map[string]int, deletes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.Reads), f.Deletes
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "message": msg})
}

func (f *Cluster) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return f.AcceptNoAuth
	}
	if u == f.User && p != f.Pass && f.AcceptWrongPass {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(u+":"+p), []byte(f.User+":"+f.Pass)) == 1
}

func (f *Cluster) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		apiError(w, http.StatusUnauthorized, "unauthorized: access denied")
		return
	}
	if f.HangPeers && r.URL.Path == "/peers" {
		<-r.Context().Done()
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.Path
	switch {
	case path == "/id" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, f.Peers[0])
	case path == "/peers" && r.Method == http.MethodGet:
		if f.PeersEcho {
			apiError(w, http.StatusInternalServerError, "cannot handle "+r.Header.Get("Authorization")+" for "+f.Pass)
			return
		}
		w.Header().Set("Trailer", "X-Stream-Error")
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		for _, p := range f.Peers {
			_ = enc.Encode(p)
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
		for i, p := range f.Peers {
			st := "pinning"
			if i < f.PinnedOn {
				st = "pinned"
			}
			pm[p.ID] = map[string]string{"peername": p.PeerName, "status": st, "error": ""}
		}
		writeJSON(w, http.StatusOK, map[string]any{"cid": c, "peer_map": pm})
	case strings.HasPrefix(path, "/pins/") && r.Method == http.MethodDelete:
		c := strings.TrimPrefix(path, "/pins/")
		f.Deletes++
		if _, ok := f.content[c]; !ok {
			apiError(w, http.StatusNotFound, "not found")
			return
		}
		if !f.IgnoreDelete {
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
func (f *Cluster) add(w http.ResponseWriter, r *http.Request) {
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
	if r.URL.Query().Get("cid-version") == "1" && !f.AddCIDv0 && len(data) <= 256<<10 {
		c = cid.NewCidV1(cid.Raw, mh)
	} else {
		c = cid.NewCidV0(mh) // not a real dag-pb hash, only a different name
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"name": part.FileName(), "cid": c.String(), "bytes": len(data), "size": len(data)})
	if f.AddStreamError != "" {
		w.Header().Set("X-Stream-Error", f.AddStreamError)
		return
	}
	f.content[c.String()] = data
}

func (f *Cluster) serveGateway(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := strings.CutPrefix(r.URL.Path, "/ipfs/")
	data, held := f.content[c]
	if !ok || !held {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	data = bytes.Clone(data)
	if f.FlipByte >= 0 && f.FlipByte < len(data) {
		data[f.FlipByte] ^= 0x01
	}
	cc := f.CacheControl
	if cc == "" {
		cc = "public, max-age=29030400, immutable"
	}
	w.Header().Set("Cache-Control", cc)
	accept := r.Header.Get("Accept")
	if accept == rawContentType {
		ct := f.RawContentType
		if ct == "" {
			ct = rawContentType
		}
		w.Header().Set("Content-Type", ct)
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	if f.CloudFront {
		key := accept + " " + c
		f.Reads[key]++
		if f.Reads[key] == 1 || f.NeverHit {
			w.Header().Set("X-Cache", "Miss from cloudfront")
		} else {
			w.Header().Set("X-Cache", "Hit from cloudfront")
		}
	}
	_, _ = w.Write(data)
}
