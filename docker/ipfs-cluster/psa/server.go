// Package psa serves the IPFS Pinning Service API v1.0.0 on top of one
// ipfs-cluster peer's REST API: the PSA layer of every task (issue 17).
//
// The edge verifies the client's Bearer token and forwards the request with
// the cluster REST API's Basic credentials; this layer requires exactly
// those and talks to its own peer's REST API with them. Pin requests are
// stored in their cluster pin's metadata (requests.go), so every peer
// answers for every request once the cluster's state has reached it.
//
// Read-your-writes through a front that spreads requests over the peers:
// a read of a request ID created less than Config.ReadWait ago that this
// peer does not know yet waits for it (the ID carries its creation time),
// so kubo's GET right after its POST finds the request on any peer; and a
// write answers once every peer that can tell reports it (the pin's
// allocated peers: the cluster's timestamp of each peer's version), after
// Config.Settle more when some peer cannot tell (the unallocated ones, a
// pin being fetched, and every peer after an unpin), so a listing or a GET
// after a DELETE on another peer sees the change.
package psa

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config of a Server.
type Config struct {
	// BasePath the routes live under, e.g. "/psa". Required.
	BasePath string
	// ClusterURL is the peer's REST API, e.g. http://127.0.0.1:9094.
	// Required.
	ClusterURL string
	// Username and Password are the REST API's Basic credentials: clients
	// (the edge) must present them, and the layer uses them upstream.
	// Required.
	Username, Password string
	// Visibility bounds how long a write waits for every peer to see it.
	// Default 5 s.
	Visibility time.Duration
	// ReadWait bounds how long a read of a request ID this peer does not
	// know waits for it, counted from the request's creation: a write
	// answers once the peers hold it, so this covers only a write that
	// gave up waiting; and every 404 for a request deleted within ReadWait
	// of its creation takes that long. Default 1 s.
	ReadWait time.Duration
	// Poll is the interval of those waits. Default 50 ms.
	Poll time.Duration
	// Settle is how long a write waits when some peer cannot say whether
	// it holds the write yet. Default DefaultSettle.
	Settle time.Duration
	// Log receives one line per failed upstream call (may be nil).
	Log *log.Logger
}

// Defaults of Config.
const (
	DefaultVisibility = 5 * time.Second
	DefaultReadWait   = time.Second
	DefaultPoll       = 50 * time.Millisecond
)

// Validate reports every problem at once.
func (c Config) Validate() error {
	var probs []string
	if !strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/") {
		probs = append(probs, fmt.Sprintf("BasePath %q: allowed: a path starting with / and not ending with one", c.BasePath))
	}
	if u, err := url.Parse(c.ClusterURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		probs = append(probs, fmt.Sprintf("ClusterURL %q: allowed: an http(s) URL", c.ClusterURL))
	}
	if c.Username == "" || c.Password == "" {
		probs = append(probs, "Username and Password: required (the cluster REST API's credentials)")
	}
	if c.Visibility < 0 || c.ReadWait < 0 || c.Poll < 0 || c.Settle < 0 {
		probs = append(probs, "Visibility, ReadWait, Poll and Settle: allowed: 0 (default) or more")
	}
	if len(probs) > 0 {
		return errors.New("psa.Config: " + strings.Join(probs, "; "))
	}
	return nil
}

// Server is the PSA layer of one peer.
type Server struct {
	cfg   Config
	c     *cluster
	locks [64]sync.Mutex // per CID (hashed): one read-modify-write at a time
	mu    sync.Mutex
	clock clock
	now   func() time.Time
	// kubos caches the peers' kubo addresses for kuboTTL.
	kubos   map[string]kuboPeer
	kubosAt time.Time
}

// kuboTTL: the peers' kubo addresses change only when a task is replaced.
const kuboTTL = 30 * time.Second

// kuboPeers returns the peers' kubo addresses, cached; on error the last
// known ones (nil at first: delegates then come from the pin status).
func (s *Server) kuboPeers(ctx context.Context) map[string]kuboPeer {
	s.mu.Lock()
	fresh := s.kubos != nil && s.now().Sub(s.kubosAt) < kuboTTL
	cached := s.kubos
	s.mu.Unlock()
	if fresh {
		return cached
	}
	k, err := s.c.kuboPeers(ctx)
	if err != nil {
		s.cfg.Log.Printf("psa: %v", err)
		return cached
	}
	s.mu.Lock()
	s.kubos, s.kubosAt = k, s.now()
	s.mu.Unlock()
	return k
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Visibility == 0 {
		cfg.Visibility = DefaultVisibility
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.ReadWait == 0 {
		cfg.ReadWait = DefaultReadWait
	}
	if cfg.Settle == 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.Log == nil {
		cfg.Log = log.New(io.Discard, "", 0)
	}
	return &Server{
		cfg: cfg,
		c: &cluster{base: strings.TrimSuffix(cfg.ClusterURL, "/"), user: cfg.Username, pass: cfg.Password,
			http: &http.Client{Timeout: 2 * time.Minute}},
		now: time.Now,
	}, nil
}

// HealthPath is answered without credentials: 204 when the peer's REST API
// is live, 503 otherwise.
const HealthPath = "/health"

// ServeHTTP routes the PSA.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, s.cfg.BasePath)
	if !ok {
		fail(w, http.StatusNotFound, "NOT_FOUND", "no such path")
		return
	}
	if path == HealthPath {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			fail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "GET only")
			return
		}
		if err := s.c.health(r.Context()); err != nil {
			fail(w, http.StatusServiceUnavailable, "UNAVAILABLE", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="pinning-service"`)
		fail(w, http.StatusUnauthorized, "UNAUTHORIZED", "access token is missing or invalid")
		return
	}
	switch {
	case path == "/pins":
		switch r.Method {
		case http.MethodGet:
			s.list(w, r)
		case http.MethodPost:
			s.add(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			fail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "GET or POST")
		}
	case strings.HasPrefix(path, "/pins/") && !strings.Contains(path[len("/pins/"):], "/"):
		raw := path[len("/pins/"):]
		id, ok := parseRequestID(raw)
		if !ok {
			fail(w, http.StatusNotFound, "NOT_FOUND", "no pin request "+strconv.Quote(raw))
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.get(w, r, id)
		case http.MethodPost:
			s.replace(w, r, id)
		case http.MethodDelete:
			s.remove(w, r, id)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			fail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "GET, POST or DELETE")
		}
	default:
		fail(w, http.StatusNotFound, "NOT_FOUND", "no such path")
	}
}

func (s *Server) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	userOK := subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.Username))
	passOK := subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.Password))
	return ok && userOK&passOK == 1
}

func (s *Server) lock(cid string) func() {
	h := fnv.New32a()
	h.Write([]byte(cid))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// failure is the spec's Failure object.
type failure struct {
	Error struct {
		Reason  string `json:"reason"`
		Details string `json:"details,omitempty"`
	} `json:"error"`
}

func fail(w http.ResponseWriter, code int, reason, details string) {
	var f failure
	f.Error.Reason, f.Error.Details = reason, details
	writeJSON(w, code, f)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// upstreamFailed answers for a failed REST API call.
func (s *Server) upstreamFailed(w http.ResponseWriter, err error) {
	s.cfg.Log.Printf("psa: %v", err)
	var ce *clusterError
	if errors.As(err, &ce) && ce.Status == http.StatusBadRequest {
		fail(w, http.StatusBadRequest, "BAD_REQUEST", ce.Message)
		return
	}
	fail(w, http.StatusBadGateway, "CLUSTER_UNAVAILABLE", "the cluster did not answer: "+err.Error())
}

// pinStatusJSON is the spec's PinStatus object.
type pinStatusJSON struct {
	RequestID string            `json:"requestid"`
	Status    string            `json:"status"`
	Created   string            `json:"created"`
	Pin       pinBody           `json:"pin"`
	Delegates []string          `json:"delegates"`
	Info      map[string]string `json:"info"`
}

func render(req request, p clusterPin, st globalStatus, kubos map[string]kuboPeer) pinStatusJSON {
	status, details := pinStatus(p, st)
	origins, meta := req.Origins, req.Meta
	if origins == nil {
		origins = []string{}
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return pinStatusJSON{
		RequestID: req.id.String(),
		Status:    status,
		Created:   req.id.created.Format(time.RFC3339Nano),
		Pin:       pinBody{Cid: p.Cid, Name: req.Name, Origins: origins, Meta: meta},
		Delegates: delegates(p, st, kubos),
		Info:      map[string]string{"status_details": details},
	}
}

func findRequest(p clusterPin, id requestID) (request, bool) {
	v, ok := p.Metadata[id.key()]
	if !ok {
		return request{}, false
	}
	var r record
	if json.Unmarshal([]byte(v), &r) != nil {
		return request{}, false
	}
	return request{id: id, record: r}, true
}

// lookup finds a request, waiting up to ReadWait after its creation for
// this peer's state to receive it.
func (s *Server) lookup(ctx context.Context, id requestID) (clusterPin, request, error) {
	now := s.now()
	deadline := id.created.Add(s.cfg.ReadWait)
	if deadline.After(now.Add(s.cfg.ReadWait)) { // a creation time in the future
		deadline = now.Add(s.cfg.ReadWait)
	}
	for polls := 0; ; polls++ {
		p, err := s.c.pin(ctx, id.cid)
		if err != nil && !errors.Is(err, errNotFound) {
			return p, request{}, err
		}
		if err == nil {
			if req, ok := findRequest(p, id); ok {
				if polls > 0 {
					s.cfg.Log.Printf("psa: request %s visible here after %s (%d polls)", id, s.now().Sub(now).Round(time.Millisecond), polls)
				}
				return p, req, nil
			}
		}
		if !s.now().Before(deadline) {
			return p, request{}, errNotFound
		}
		select {
		case <-ctx.Done():
			return p, request{}, ctx.Err()
		case <-time.After(s.cfg.Poll):
		}
	}
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, id requestID) {
	p, req, err := s.lookup(r.Context(), id)
	if errors.Is(err, errNotFound) {
		fail(w, http.StatusNotFound, "NOT_FOUND", "no pin request "+id.String())
		return
	}
	if err != nil {
		s.upstreamFailed(w, err)
		return
	}
	st, err := s.c.status(r.Context(), p.Cid)
	if err != nil {
		s.upstreamFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, render(req, p, st, s.kuboPeers(r.Context())))
}

// readPin decodes and checks a request body's Pin object.
func readPin(w http.ResponseWriter, r *http.Request) (pinBody, string, bool) {
	var b pinBody
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&b); err != nil {
		fail(w, http.StatusBadRequest, "BAD_REQUEST", "the body is not a Pin object: "+err.Error())
		return b, "", false
	}
	cid, err := b.validate()
	if err != nil {
		fail(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return b, "", false
	}
	return b, cid, true
}

func (s *Server) newID(cid string) requestID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newRequestID(s.clock.next(s.now()), cid)
}

// errTooLarge: the CID's requests no longer fit in one cluster pin.
var errTooLarge = errors.New("too many pin requests for this CID")

// change applies one read-modify-write to cid's cluster pin under its lock:
// it adds the request add (if any) and removes the records named in drop,
// then writes the pin back (or unpins it when no request and no earlier
// pin is left) and waits until every reachable peer reports the change.
func (s *Server) change(ctx context.Context, cid string, add *request, drop ...requestID) (clusterPin, error) {
	defer s.lock(cid)()
	p, err := s.c.pin(ctx, cid)
	existed := err == nil
	if err != nil && !errors.Is(err, errNotFound) {
		return p, err
	}
	meta := map[string]string{}
	for k, v := range p.Metadata {
		meta[k] = v
	}
	if existed && len(requestsOf(p)) == 0 && meta[keptKey] == "" {
		meta[keptKey] = "1"
	}
	for _, id := range drop {
		delete(meta, id.key())
	}
	if add != nil {
		v, _ := json.Marshal(add.record)
		if len(v) > maxRecordBytes {
			return p, fmt.Errorf("%w: the request's name, meta and origins take %d bytes; allowed: %d", errTooLarge, len(v), maxRecordBytes)
		}
		meta[add.id.key()] = string(v)
	}
	rest := requestsOf(clusterPin{Cid: cid, Metadata: meta})
	if len(rest) == 0 && meta[keptKey] == "" {
		if !existed {
			return p, nil
		}
		if err := s.c.unpin(ctx, cid); err != nil {
			return p, err
		}
		// No peer can be asked whether it dropped the pin: the cluster
		// answers a CID missing from the local state with "unpinned" for
		// every peer, without asking them.
		s.settle(ctx)
		return p, nil
	}
	// The newest request names the pin (an earlier pin keeps its name); the
	// request just added says where its data is.
	name, origins := p.Name, p.Origins
	if meta[keptKey] == "" {
		name = rest[0].Name
	}
	if add != nil {
		origins = dialableOrigins(add.Origins)
	}
	if len(rest) == 0 {
		delete(meta, keptKey)
	}
	size := len(name)
	for k, v := range meta {
		size += len(url.QueryEscape(k)) + len(url.QueryEscape(v)) + 7
	}
	if size > maxPinQueryByte {
		return p, fmt.Errorf("%w: their records would take %d bytes; allowed: %d (delete some)", errTooLarge, size, maxPinQueryByte)
	}
	if existed {
		// The cluster keeps a pin's timestamp to the second, and the peers'
		// timestamps tell which version they hold: a new version must fall
		// in a later second than the one it replaces.
		if wait := time.Unix(p.Timestamp.Unix()+1, 0).Sub(s.now()); wait > 0 {
			select {
			case <-ctx.Done():
				return p, ctx.Err()
			case <-time.After(wait + 5*time.Millisecond):
			}
		}
	}
	np, err := s.c.put(ctx, cid, name, origins, meta)
	if err != nil {
		return np, err
	}
	s.propagate(ctx, cid, np.Timestamp.Truncate(time.Second))
	return np, nil
}

// DefaultSettle is how long a write waits when some peer's copy of the
// state cannot be checked: DESIGN.md §13 measured every cross-peer read
// succeed 200 ms after a write (none after 0 ms, 1 of 4 after 50 ms).
const DefaultSettle = 250 * time.Millisecond

func (s *Server) settle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(s.cfg.Settle):
	}
}

// propagate polls the CID's status until every peer that can tell holds
// the pin's version of second ts or later, for at most Visibility, then
// settles if some peer could not tell. Only the peers the pin is
// allocated to are asked (the cluster reports the others "remote" from
// its own state), and a peer still fetching the pin reports the time of
// its fetch, which may predate this version.
func (s *Server) propagate(ctx context.Context, cid string, ts time.Time) {
	start := s.now()
	deadline := start.Add(s.cfg.Visibility)
	for polls := 0; ; polls++ {
		st, err := s.c.status(ctx, cid)
		if err == nil {
			all, blind := true, false
			for _, ps := range st.PeerMap {
				switch holds, knows := holdsVersion(ps, ts); {
				case !knows:
					blind = true
				case !holds:
					all = false
				}
			}
			if all {
				if polls > 0 {
					s.cfg.Log.Printf("psa: %s: every peer reports the change after %s (%d polls)", cid, s.now().Sub(start).Round(time.Millisecond), polls)
				}
				if blind {
					s.settle(ctx)
				}
				return
			}
		}
		if !s.now().Before(deadline) {
			s.cfg.Log.Printf("psa: %s: not every peer reports the change after %s", cid, s.cfg.Visibility)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.Poll):
		}
	}
}

// holdsVersion says whether a peer's status shows the pin's version of
// second ts or later, and whether the status can tell at all.
func holdsVersion(ps peerStatus, ts time.Time) (holds, knows bool) {
	switch ps.Status {
	case "cluster_error", "remote":
		return false, false
	case "unpinned", "unpin_queued", "unpinning", "unpin_error", "undefined", "":
		return false, true
	case "pin_queued", "pinning", "pin_error":
		if !ps.TS.Before(ts) {
			return true, true
		}
		return false, false
	}
	return !ps.TS.Before(ts), true
}

func (s *Server) changeFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooLarge) {
		fail(w, http.StatusBadRequest, "TOO_LARGE", err.Error())
		return
	}
	s.upstreamFailed(w, err)
}

// created answers 202 with the request just stored.
func (s *Server) created(w http.ResponseWriter, r *http.Request, req request, p clusterPin) {
	st, err := s.c.status(r.Context(), p.Cid)
	if err != nil {
		s.upstreamFailed(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, render(req, p, st, s.kuboPeers(r.Context())))
}

func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	b, cid, ok := readPin(w, r)
	if !ok {
		return
	}
	req := request{id: s.newID(cid), record: record{Name: b.Name, Meta: b.Meta, Origins: b.Origins}}
	p, err := s.change(r.Context(), cid, &req)
	if err != nil {
		s.changeFailed(w, err)
		return
	}
	s.created(w, r, req, p)
}

// replace stores a new request for the body's Pin and removes the old one
// (the spec's POST /pins/{requestid}: a new request ID).
func (s *Server) replace(w http.ResponseWriter, r *http.Request, old requestID) {
	b, cid, ok := readPin(w, r)
	if !ok {
		return
	}
	if _, _, err := s.lookup(r.Context(), old); errors.Is(err, errNotFound) {
		fail(w, http.StatusNotFound, "NOT_FOUND", "no pin request "+old.String())
		return
	} else if err != nil {
		s.upstreamFailed(w, err)
		return
	}
	req := request{id: s.newID(cid), record: record{Name: b.Name, Meta: b.Meta, Origins: b.Origins}}
	var drop []requestID
	if old.cid == cid {
		drop = append(drop, old)
	}
	p, err := s.change(r.Context(), cid, &req, drop...)
	if err != nil {
		s.changeFailed(w, err)
		return
	}
	if old.cid != cid {
		if _, err := s.change(r.Context(), old.cid, nil, old); err != nil {
			s.changeFailed(w, err)
			return
		}
	}
	s.created(w, r, req, p)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, id requestID) {
	if _, _, err := s.lookup(r.Context(), id); errors.Is(err, errNotFound) {
		fail(w, http.StatusNotFound, "NOT_FOUND", "no pin request "+id.String())
		return
	} else if err != nil {
		s.upstreamFailed(w, err)
		return
	}
	if _, err := s.change(r.Context(), id.cid, nil, id); err != nil {
		s.changeFailed(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
}

// listQuery is a parsed GET /pins.
type listQuery struct {
	cids          []string
	name, match   string
	statuses      []string
	before, after time.Time
	limit         int
	meta          map[string]string
}

func parseList(q url.Values) (listQuery, error) {
	l := listQuery{limit: defaultLimit, match: "exact"}
	filtered := false
	if v := q.Get("cid"); v != "" {
		filtered = true
		for _, c := range strings.Split(v, ",") {
			b := pinBody{Cid: c}
			canon, err := b.validate()
			if err != nil {
				return l, err
			}
			l.cids = append(l.cids, canon)
		}
		if len(l.cids) > maxCIDFilter {
			return l, fmt.Errorf("cid: %d CIDs; allowed: up to %d", len(l.cids), maxCIDFilter)
		}
	}
	if _, ok := q["name"]; ok {
		filtered = true
		l.name = q.Get("name")
		if len(l.name) > maxNameLength {
			return l, fmt.Errorf("name: %d characters; allowed: up to %d", len(l.name), maxNameLength)
		}
	}
	if v := q.Get("match"); v != "" {
		if !slices.Contains([]string{"exact", "iexact", "partial", "ipartial"}, v) {
			return l, fmt.Errorf("match %q; allowed: exact, iexact, partial, ipartial", v)
		}
		l.match = v
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"before", &l.before}, {"after", &l.after}} {
		if v := q.Get(p.name); v != "" {
			filtered = true
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return l, fmt.Errorf("%s %q: not an RFC 3339 timestamp", p.name, v)
			}
			*p.t = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return l, fmt.Errorf("limit %q; allowed: 1 to %d", v, maxLimit)
		}
		l.limit = n
	}
	if v := q.Get("meta"); v != "" {
		filtered = true
		if err := json.Unmarshal([]byte(v), &l.meta); err != nil {
			return l, fmt.Errorf("meta: not a JSON object of strings: %v", err)
		}
	}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			if !slices.Contains(allStatuses, st) {
				return l, fmt.Errorf("status %q; allowed: %s", st, strings.Join(allStatuses, ", "))
			}
			l.statuses = append(l.statuses, st)
		}
	} else if filtered {
		l.statuses = allStatuses
	} else {
		// The spec: without any filter, only successful pins.
		l.statuses = []string{statusPinned}
	}
	return l, nil
}

func (l listQuery) matches(req request) bool {
	if len(l.cids) > 0 && !slices.Contains(l.cids, req.id.cid) {
		return false
	}
	if l.name != "" && !matchName(req.Name, l.name, l.match) {
		return false
	}
	if !l.before.IsZero() && !req.id.created.Before(l.before) {
		return false
	}
	if !l.after.IsZero() && !req.id.created.After(l.after) {
		return false
	}
	for k, v := range l.meta {
		if got, ok := req.Meta[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// pinResults is the spec's PinResults object.
type pinResults struct {
	Count   int             `json:"count"`
	Results []pinStatusJSON `json:"results"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	l, err := parseList(r.URL.Query())
	if err != nil {
		fail(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	ctx := r.Context()
	var pins []clusterPin
	if len(l.cids) > 0 {
		for _, c := range l.cids {
			p, err := s.c.pin(ctx, c)
			if errors.Is(err, errNotFound) {
				continue
			} else if err != nil {
				s.upstreamFailed(w, err)
				return
			}
			pins = append(pins, p)
		}
	} else if pins, err = s.c.pins(ctx); err != nil {
		s.upstreamFailed(w, err)
		return
	}
	byCid := map[string]clusterPin{}
	var candidates []request
	for _, p := range pins {
		for _, req := range requestsOf(p) {
			if l.matches(req) {
				candidates = append(candidates, req)
				byCid[p.Cid] = p
			}
		}
	}
	statuses := map[string]globalStatus{}
	switch {
	case len(candidates) == 0:
	case len(byCid) <= maxCIDFilter:
		for c := range byCid {
			st, err := s.c.status(ctx, c)
			if err != nil && !errors.Is(err, errNotFound) {
				s.upstreamFailed(w, err)
				return
			}
			statuses[c] = st
		}
	default:
		if statuses, err = s.c.statuses(ctx); err != nil {
			s.upstreamFailed(w, err)
			return
		}
	}
	sortNewestFirst(candidates)
	out := pinResults{Results: []pinStatusJSON{}}
	kubos := s.kuboPeers(ctx)
	for _, req := range candidates {
		ps := render(req, byCid[req.id.cid], statuses[req.id.cid], kubos)
		if !slices.Contains(l.statuses, ps.Status) {
			continue
		}
		out.Count++
		if len(out.Results) < l.limit {
			out.Results = append(out.Results, ps)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
