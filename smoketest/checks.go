package smoketest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// pollInterval is the pause between two attempts of a wait.
const pollInterval = 500 * time.Millisecond

// Kubo's Cache-Control for /ipfs/ (boxo gateway, kubo v0.43): public,
// max-age=29030400, immutable. A front may lengthen max-age, never shorten it.
const immutableMaxAge = 29030400

const rawContentType = "application/vnd.ipld.raw"

// permanentError ends a wait at once: retrying cannot change the answer
// (wrong bytes, a 200 where a 401 belongs).
type permanentError struct{ error }

func permanent(format string, args ...any) error {
	return permanentError{fmt.Errorf(format, args...)}
}

// until calls try until it succeeds or fails permanently, within Wait. It
// returns the number of attempts and, on failure, the most telling error:
// the last one that was not the deadline itself.
func (r *run) until(ctx context.Context, try func(context.Context) error) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Wait)
	defer cancel()
	start := time.Now()
	var last error
	for n := 1; ; n++ {
		err := try(ctx)
		if err == nil {
			return n, nil
		}
		var p permanentError
		if errors.As(err, &p) {
			return n, p.error
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return n, fmt.Errorf("not within %s (%d attempts): %w", time.Since(start).Round(100*time.Millisecond), n, last)
		case <-time.After(pollInterval):
		}
	}
}

// response is a fully read answer.
type response struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
}

// send makes one request; auth adds the REST API credentials. It reads at
// most limit bytes of the body (and one more, to notice a longer answer).
func (r *run) send(ctx context.Context, method, u string, body io.Reader, header http.Header, user, pass string, limit int64) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, u, err)
	}
	// The trailer is known only once the body is read to its end.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return &response{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: b}, nil
}

// api sends an authenticated REST API request.
func (r *run) api(ctx context.Context, method, path string, body io.Reader, header http.Header) (*response, error) {
	return r.send(ctx, method, r.cfg.APIURL+path, body, header, r.cfg.Username, r.cfg.Password, 1<<20)
}

// gatewayGet reads /ipfs/<cid> from the gateway.
func (r *run) gatewayGet(ctx context.Context, accept string) (*response, error) {
	h := http.Header{}
	if accept != "" {
		h.Set("Accept", accept)
	}
	user, pass := "", ""
	if r.cfg.GatewayAuth {
		user, pass = r.cfg.Username, r.cfg.Password
	}
	return r.send(ctx, http.MethodGet, r.cfg.GatewayURL+"/ipfs/"+r.cid, nil, h, user, pass, Size)
}

// retryable says whether an HTTP status may change by itself: the front or
// a peer not answering yet.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusNotFound
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// statusError describes an unexpected status; permanent unless retryable.
func statusError(what string, res *response, want int) error {
	err := fmt.Errorf("%s: HTTP %d, want %d: %s", what, res.status, want, snippet(res.body))
	if retryable(res.status) {
		return err
	}
	return permanentError{err}
}

// decodeStream reads the REST API's streamed answers: JSON objects one
// after the other, not an array.
func decodeStream[T any](body []byte) ([]T, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []T
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

// refuses checks that GET /id with these credentials (none if user is
// empty) answers 401.
func (r *run) refuses(ctx context.Context, user, pass string) (string, error) {
	var got int
	_, err := r.until(ctx, func(ctx context.Context) error {
		res, err := r.send(ctx, http.MethodGet, r.cfg.APIURL+"/id", nil, nil, user, pass, 4096)
		if err != nil {
			return err
		}
		got = res.status
		if res.status == http.StatusUnauthorized {
			return nil
		}
		if res.status >= 500 {
			return fmt.Errorf("HTTP %d, want 401", res.status)
		}
		return permanent("HTTP %d, want 401", res.status)
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("HTTP %d", got), nil
}

// standby checks the REST API through the second region: it refuses a
// request without credentials, and the peers that answer /id are the second
// region's (the load balancer spreads requests, so it asks three times).
func (r *run) standby(ctx context.Context) (string, error) {
	var names []string
	n, err := r.until(ctx, func(ctx context.Context) error {
		res, err := r.send(ctx, http.MethodGet, r.cfg.StandbyAPIURL+"/id", nil, nil, "", "", 4096)
		if err != nil {
			return err
		}
		if res.status != http.StatusUnauthorized {
			return statusError("GET /id without credentials", res, http.StatusUnauthorized)
		}
		names = names[:0]
		for range 3 {
			res, err := r.send(ctx, http.MethodGet, r.cfg.StandbyAPIURL+"/id", nil, nil, r.cfg.Username, r.cfg.Password, 1<<20)
			if err != nil {
				return err
			}
			if res.status != http.StatusOK {
				return statusError("GET /id", res, http.StatusOK)
			}
			var id struct {
				PeerName string `json:"peername"`
			}
			if err := json.Unmarshal(res.body, &id); err != nil {
				return permanent("GET /id: %v", err)
			}
			if region := r.cfg.PeerRegions[id.PeerName]; region != r.cfg.StandbyRegion {
				return permanent("answered by %q, a peer of %q, want a peer of %s", id.PeerName, region, r.cfg.StandbyRegion)
			}
			names = append(names, id.PeerName)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("refuses without credentials; answered by %s (%s), after %d attempt(s)", strings.Join(names, ", "), r.cfg.StandbyRegion, n), nil
}

// peerEntry is what the check reads of one /peers object (ipfs-cluster
// api.ID).
type peerEntry struct {
	ID    string `json:"id"`
	Error string `json:"error"`
	IPFS  struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"ipfs"`
}

func (r *run) peers(ctx context.Context) (string, error) {
	var ids []string
	n, err := r.until(ctx, func(ctx context.Context) error {
		res, err := r.api(ctx, http.MethodGet, "/peers", nil, nil)
		if err != nil {
			return err
		}
		if res.status != http.StatusOK {
			return statusError("GET /peers", res, http.StatusOK)
		}
		if e := res.trailer.Get("X-Stream-Error"); e != "" {
			return fmt.Errorf("GET /peers: X-Stream-Error: %s", e)
		}
		// A stream of JSON objects, one per peer (not an array).
		entries, err := decodeStream[peerEntry](res.body)
		if err != nil {
			return permanent("GET /peers: not a stream of peer objects: %v", err)
		}
		seen := map[string]bool{}
		var problems []string
		for _, p := range entries {
			switch {
			case p.ID == "":
				problems = append(problems, "an entry without id")
			case seen[p.ID]:
				problems = append(problems, "peer "+p.ID+" listed twice")
			case p.Error != "":
				problems = append(problems, "peer "+p.ID+": "+p.Error)
			case p.IPFS.Error != "":
				problems = append(problems, "peer "+p.ID+"'s kubo: "+p.IPFS.Error)
			}
			seen[p.ID] = true
		}
		ids = ids[:0]
		for id := range seen {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if len(seen) != r.cfg.ExpectedPeers {
			problems = append(problems, fmt.Sprintf("lists %d peers, want %d", len(seen), r.cfg.ExpectedPeers))
		}
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, "; "))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = "…" + id[max(0, len(id)-6):]
	}
	return fmt.Sprintf("%d peers, no errors (%s), after %d attempt(s)", len(ids), strings.Join(short, " "), n), nil
}

// expectedCID is what adding r.data with cid-version=1 must answer: a single
// raw block (raw leaves, below one chunk) named by its sha2-256.
func (r *run) expectedCID() cid.Cid {
	mh, err := multihash.Sum(r.data, multihash.SHA2_256, -1)
	if err != nil {
		panic(err) // sha2-256 is always registered
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// added is one line of the /add answer.
type added struct {
	Name string `json:"name"`
	Cid  string `json:"cid"`
}

func (r *run) add(ctx context.Context) (string, error) {
	want := r.expectedCID()
	name := fmt.Sprintf("smoketest-%s-%s", time.Now().UTC().Format("20060102T150405Z"), randomToken()[:8])
	n, err := r.until(ctx, func(ctx context.Context) error {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			return permanentError{err}
		}
		if _, err := fw.Write(r.data); err != nil {
			return permanentError{err}
		}
		if err := mw.Close(); err != nil {
			return permanentError{err}
		}
		q := url.Values{"cid-version": {"1"}, "name": {name}, "stream-channels": {"true"}}
		res, err := r.api(ctx, http.MethodPost, "/add?"+q.Encode(), &body, http.Header{"Content-Type": {mw.FormDataContentType()}})
		if err != nil {
			return err
		}
		if res.status != http.StatusOK {
			return statusError("POST /add", res, http.StatusOK)
		}
		lines, err := decodeStream[added](res.body)
		if err != nil {
			return fmt.Errorf("POST /add: unreadable answer: %v", err)
		}
		got := ""
		for _, a := range lines {
			if a.Cid != "" {
				got = a.Cid
			}
		}
		if got != "" {
			r.cid = got // whatever happens next, unpin it at the end
		}
		// /add answers 200 before it parses the body: only the trailer
		// says whether the add (and the pin) worked.
		if e := res.trailer.Get("X-Stream-Error"); e != "" {
			return fmt.Errorf("POST /add: X-Stream-Error: %s", e)
		}
		if got == "" {
			return errors.New("POST /add: no CID in the answer")
		}
		c, err := cid.Decode(got)
		if err != nil {
			return permanent("POST /add: answered %q, not a CID: %v", got, err)
		}
		if !c.Equals(want) {
			return permanent("POST /add: answered %s, want %s (cid-version=1, raw leaves, one chunk)", got, want)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	r.added = true
	return fmt.Sprintf("%s (%d random bytes, name %s), after %d attempt(s)", r.cid, len(r.data), name, n), nil
}

// pinStatus is what the check reads of /pins/<cid> (api.GlobalPinInfo).
type pinStatus struct {
	PeerMap map[string]struct {
		PeerName string `json:"peername"`
		Status   string `json:"status"`
		Error    string `json:"error"`
	} `json:"peer_map"`
}

func (r *run) pinned(ctx context.Context) (string, error) {
	var pinnedOn, total int
	var regions []string
	if rs := r.cfg.regions(); len(rs) > 1 {
		regions = rs
	}
	_, err := r.until(ctx, func(ctx context.Context) error {
		res, err := r.api(ctx, http.MethodGet, "/pins/"+url.PathEscape(r.cid), nil, nil)
		if err != nil {
			return err
		}
		if res.status != http.StatusOK {
			return statusError("GET /pins/"+r.cid, res, http.StatusOK)
		}
		var st pinStatus
		if err := json.Unmarshal(res.body, &st); err != nil {
			return permanent("GET /pins/%s: %v", r.cid, err)
		}
		counts := map[string]int{}
		pinnedIn := map[string]int{}
		for _, p := range st.PeerMap {
			counts[p.Status]++
			if p.Status == "pinned" {
				pinnedIn[r.cfg.PeerRegions[p.PeerName]]++
			}
		}
		pinnedOn, total = counts["pinned"], len(st.PeerMap)
		if pinnedOn < r.cfg.ReplicationFactorMin {
			return fmt.Errorf("pinned on %d peers, want at least %d; statuses %v", pinnedOn, r.cfg.ReplicationFactorMin, counts)
		}
		var missing []string
		for _, region := range regions {
			if pinnedIn[region] == 0 {
				missing = append(missing, region)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("pinned on %d peers but in no peer of %s; statuses %v", pinnedOn, strings.Join(missing, ", "), counts)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	detail := fmt.Sprintf("pinned on %d of %d peers (replication-factor-min %d)", pinnedOn, total, r.cfg.ReplicationFactorMin)
	if len(regions) > 1 {
		detail += ", in each of " + strings.Join(regions, ", ")
	}
	return detail, nil
}

// checkImmutable checks kubo's Cache-Control for /ipfs/.
func checkImmutable(cc string) error {
	var public, immutable bool
	maxAge := -1
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "public":
			public = true
		case d == "immutable":
			immutable = true
		case strings.HasPrefix(d, "max-age="):
			if v, err := strconv.Atoi(strings.TrimPrefix(d, "max-age=")); err == nil {
				maxAge = v
			}
		}
	}
	if !public || !immutable || maxAge < immutableMaxAge {
		return fmt.Errorf("Cache-Control %q, want public, immutable and max-age >= %d", cc, immutableMaxAge)
	}
	return nil
}

// readBytes reads /ipfs/<cid> and demands the added bytes.
func (r *run) readBytes(ctx context.Context) (*response, error) {
	res, err := r.gatewayGet(ctx, "")
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, statusError("GET /ipfs/"+r.cid, res, http.StatusOK)
	}
	if !bytes.Equal(res.body, r.data) {
		return nil, permanent("GET /ipfs/%s: %s differ from the %d added", r.cid, describeDiff(res.body, r.data), len(r.data))
	}
	return res, nil
}

func describeDiff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d bytes", len(got))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("%d bytes, first difference at offset %d,", len(got), i)
		}
	}
	return "equal bytes"
}

func (r *run) gateway(ctx context.Context) (string, error) {
	var res *response
	n, err := r.until(ctx, func(ctx context.Context) error {
		var err error
		res, err = r.readBytes(ctx)
		return err
	})
	if err != nil {
		return "", err
	}
	cc := res.header.Get("Cache-Control")
	if err := checkImmutable(cc); err != nil {
		return "", err
	}
	d := fmt.Sprintf("%d bytes identical, Cache-Control: %s, after %d attempt(s)", len(res.body), cc, n)
	if x := res.header.Get("X-Cache"); x != "" {
		d += ", X-Cache: " + x
	}
	return d, nil
}

// cacheReads is how many further reads may look for the cache hit: the
// first read filled the cache, a later one may land on another edge server.
const cacheReads = 3

func (r *run) cacheHit(ctx context.Context) (string, error) {
	var xcache string
	reads := 0
	n, err := r.until(ctx, func(ctx context.Context) error {
		reads++
		res, err := r.readBytes(ctx)
		if err != nil {
			return err
		}
		xcache = res.header.Get("X-Cache")
		if strings.HasPrefix(strings.ToLower(xcache), "hit from cloudfront") {
			return nil
		}
		err = fmt.Errorf("read %d: X-Cache: %q, want Hit from cloudfront", reads, xcache)
		if reads >= cacheReads {
			return permanentError{err}
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("X-Cache: %s on read %d after the first", xcache, n), nil
}

func (r *run) rawBlock(ctx context.Context) (string, error) {
	c, err := cid.Decode(r.cid)
	if err != nil {
		return "", err
	}
	var res *response
	n, err := r.until(ctx, func(ctx context.Context) error {
		res, err = r.gatewayGet(ctx, rawContentType)
		if err != nil {
			return err
		}
		if res.status != http.StatusOK {
			return statusError("GET /ipfs/"+r.cid+" as raw block", res, http.StatusOK)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, rawContentType) {
		return "", fmt.Errorf("Content-Type %q, want %s", ct, rawContentType)
	}
	// What a verifying client does: the block must hash to its CID.
	sum, err := c.Prefix().Sum(res.body)
	if err != nil {
		return "", fmt.Errorf("hashing the block: %v", err)
	}
	if !sum.Equals(c) {
		return "", fmt.Errorf("the %d-byte block hashes to %s, not to %s", len(res.body), sum, c)
	}
	if !bytes.Equal(res.body, r.data) {
		return "", fmt.Errorf("the block (%s) differs from the %d added bytes", describeDiff(res.body, r.data), len(r.data))
	}
	return fmt.Sprintf("%d-byte block hashes to the CID and equals the bytes, after %d attempt(s)", len(res.body), n), nil
}

func (r *run) unpin(ctx context.Context) (string, error) {
	path := "/pins/" + url.PathEscape(r.cid)
	var deleted int
	_, err := r.until(ctx, func(ctx context.Context) error {
		res, err := r.api(ctx, http.MethodDelete, path, nil, nil)
		if err != nil {
			return err
		}
		// 404: not (or no longer) in the pinset, e.g. after a failed add
		// or a retried DELETE; what counts is the check below.
		if res.status != http.StatusOK && res.status != http.StatusNotFound {
			return statusError("DELETE "+path, res, http.StatusOK)
		}
		deleted = res.status
		return nil
	})
	if err != nil {
		return "", err
	}
	n, err := r.until(ctx, func(ctx context.Context) error {
		res, err := r.api(ctx, http.MethodGet, "/allocations/"+url.PathEscape(r.cid), nil, nil)
		if err != nil {
			return err
		}
		switch res.status {
		case http.StatusNotFound:
			return nil
		case http.StatusOK:
			return errors.New("still in the pinset (GET /allocations answers 200)")
		}
		return statusError("GET /allocations/"+r.cid, res, http.StatusNotFound)
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("DELETE answered %d; gone from the pinset after %d attempt(s)", deleted, n), nil
}
