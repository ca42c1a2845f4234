package localcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// Client is a minimal ipfs-cluster REST API client (the JSON API of
// ipfs-cluster-ctl), enough for the harness, the scenarios and the benchmark.
type Client struct {
	Base       string
	User, Pass string
	HTTP       *http.Client
}

// NewClient returns a client for base (http://host:9094) with basic auth.
func NewClient(base, user, pass string) *Client {
	return &Client{Base: base, User: user, Pass: pass, HTTP: &http.Client{Timeout: 10 * time.Minute}}
}

// HTTPError is a non-2xx answer.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, strings.TrimSpace(e.Body))
}

// Do sends a request with the client's credentials (none if User is empty).
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Pass)
	}
	return c.HTTP.Do(req)
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	resp, err := c.Do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &HTTPError{resp.StatusCode, string(b)}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// stream reads a streamed (newline-delimited JSON) answer; 204 is empty.
func stream[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	resp, err := c.Do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &HTTPError{resp.StatusCode, string(b)}
	}
	var out []T
	dec := json.NewDecoder(resp.Body)
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	if e := resp.Trailer.Get("X-Stream-Error"); e != "" {
		return out, errors.New(e)
	}
	return out, nil
}

// IPFSID is the kubo part of an ID.
type IPFSID struct {
	ID        string   `json:"id"`
	Addresses []string `json:"addresses"`
	Error     string   `json:"error"`
}

// ID is a cluster peer's /id answer (or one entry of /peers).
type ID struct {
	ID                    string   `json:"id"`
	Addresses             []string `json:"addresses"`
	ClusterPeers          []string `json:"cluster_peers"`
	ClusterPeersAddresses []string `json:"cluster_peers_addresses"`
	Version               string   `json:"version"`
	Error                 string   `json:"error"`
	IPFS                  IPFSID   `json:"ipfs"`
	Peername              string   `json:"peername"`
}

// ID returns the peer's own identity.
func (c *Client) ID(ctx context.Context) (*ID, error) {
	var id ID
	return &id, c.getJSON(ctx, "/id", &id)
}

// Peers is `ipfs-cluster-ctl peers ls`.
func (c *Client) Peers(ctx context.Context) ([]ID, error) {
	return stream[ID](ctx, c, "/peers")
}

// PinInfo is one peer's status of a pin.
type PinInfo struct {
	PeerName string `json:"peername"`
	IPFS     string `json:"ipfs_peer_id"`
	Status   string `json:"status"`
	Error    string `json:"error"`
}

// GlobalPinInfo is a pin's status on every allocated peer.
type GlobalPinInfo struct {
	Cid         string             `json:"cid"`
	Name        string             `json:"name"`
	Allocations []string           `json:"allocations"`
	PeerMap     map[string]PinInfo `json:"peer_map"`
}

// CountStatus counts the peers reporting status (e.g. "pinned").
func (g *GlobalPinInfo) CountStatus(status string) int {
	n := 0
	for _, p := range g.PeerMap {
		if p.Status == status {
			n++
		}
	}
	return n
}

// Status is `ipfs-cluster-ctl status <cid>`; local restricts it to this peer.
func (c *Client) Status(ctx context.Context, cid string, local bool) (*GlobalPinInfo, error) {
	var g GlobalPinInfo
	q := ""
	if local {
		q = "?local=true"
	}
	return &g, c.getJSON(ctx, "/pins/"+url.PathEscape(cid)+q, &g)
}

// StatusAll is `ipfs-cluster-ctl status` (optionally filtered, e.g. "pinned").
func (c *Client) StatusAll(ctx context.Context, filter string, local bool) ([]GlobalPinInfo, error) {
	q := url.Values{}
	if filter != "" {
		q.Set("filter", filter)
	}
	if local {
		q.Set("local", "true")
	}
	path := "/pins"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return stream[GlobalPinInfo](ctx, c, path)
}

// Pin is an entry of the shared pinset.
type Pin struct {
	Cid                  string   `json:"cid"`
	Name                 string   `json:"name"`
	Allocations          []string `json:"allocations"`
	ReplicationFactorMin int      `json:"replication_factor_min"`
	ReplicationFactorMax int      `json:"replication_factor_max"`
}

// Allocations is `ipfs-cluster-ctl pin ls`: the pinset as this peer's
// consensus state holds it.
func (c *Client) Allocations(ctx context.Context) ([]Pin, error) {
	return stream[Pin](ctx, c, "/allocations?filter=pin")
}

// AddFile is one file of an add request.
type AddFile struct {
	Name string
	Data []byte
}

// AddParams are the add options the harness uses.
type AddParams struct {
	ReplicationMin, ReplicationMax int // 0: cluster default
	Name                           string
	Wrap                           bool // wrap-with-directory (required to pin several files as one)
	// Local writes the blocks only to the receiving peer's kubo; the other
	// allocations fetch them over kubo's bitswap when they pin. Default
	// (false): the receiving cluster peer streams every block to every
	// allocation's kubo during the add.
	Local bool
}

// addedEntry is one line of the add answer.
type addedEntry struct {
	Name  string `json:"name"`
	Cid   string `json:"cid"`
	Bytes uint64 `json:"bytes"`
	Size  uint64 `json:"size"`
}

// Add is `ipfs-cluster-ctl add` (POST /add, multipart). It returns the root
// CID the cluster pinned: the last entry of the answer.
func (c *Client) Add(ctx context.Context, p AddParams, files ...AddFile) (string, error) {
	if len(files) == 0 {
		return "", errors.New("nothing to add")
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, f := range files {
			h := make(textproto.MIMEHeader)
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, url.PathEscape(f.Name)))
			h.Set("Content-Type", "application/octet-stream")
			w, err := mw.CreatePart(h)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(w, bytes.NewReader(f.Data)); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	q := url.Values{}
	q.Set("stream-channels", "true")
	if p.ReplicationMin != 0 {
		q.Set("replication-min", fmt.Sprint(p.ReplicationMin))
	}
	if p.ReplicationMax != 0 {
		q.Set("replication-max", fmt.Sprint(p.ReplicationMax))
	}
	if p.Name != "" {
		q.Set("name", p.Name)
	}
	if p.Wrap {
		q.Set("wrap-with-directory", "true")
	}
	if p.Local {
		q.Set("local", "true")
	}
	resp, err := c.Do(ctx, http.MethodPost, "/add?"+q.Encode(), pr, mw.FormDataContentType())
	if err != nil {
		pr.CloseWithError(err)
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", &HTTPError{resp.StatusCode, string(b)}
	}
	var last addedEntry
	dec := json.NewDecoder(resp.Body)
	for {
		var a addedEntry
		err := dec.Decode(&a)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		if a.Cid != "" {
			last = a
		}
	}
	if e := resp.Trailer.Get("X-Stream-Error"); e != "" {
		return "", fmt.Errorf("add: %s", e)
	}
	if last.Cid == "" {
		return "", errors.New("add: no CID in the answer")
	}
	return last.Cid, nil
}

// GatewayGet fetches /ipfs/<cid>[/path] from a kubo gateway base URL.
func GatewayGet(ctx context.Context, gateway, cidPath string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, gateway+"/ipfs/"+cidPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{resp.StatusCode, string(b[:min(len(b), 512)])}
	}
	return b, nil
}

// metric is a peer monitor metric (the allocator's input).
type metric struct {
	Name   string `json:"name"`
	Peer   string `json:"peer"`
	Value  string `json:"value"`
	Expire int64  `json:"expire"`
	Valid  bool   `json:"valid"`
}

// metricNames lists the metrics the peer's monitor knows.
func (c *Client) metricNames(ctx context.Context) ([]string, error) {
	var names []string
	return names, c.getJSON(ctx, "/monitor/metrics", &names)
}

// metrics returns the latest valid metric of each peer for name.
func (c *Client) metrics(ctx context.Context, name string) ([]metric, error) {
	var ms []metric
	return ms, c.getJSON(ctx, "/monitor/metrics/"+url.PathEscape(name), &ms)
}

// MetricPeers returns, for each metric name the peer knows, the peers
// that have a valid, unexpired value: who the allocator can choose from.
func (c *Client) MetricPeers(ctx context.Context) (map[string][]string, error) {
	names, err := c.metricNames(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	now := time.Now().UnixNano()
	for _, n := range names {
		ms, err := c.metrics(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Valid && m.Expire > now {
				out[n] = append(out[n], m.Peer)
			}
		}
	}
	return out, nil
}
