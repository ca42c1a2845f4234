package psa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// errNotFound is the cluster's 404: the CID is not in its shared state.
var errNotFound = errors.New("not in the cluster's state")

// clusterPin is what the REST API's /allocations returns: one pin of the
// shared state (the fields this layer reads).
type clusterPin struct {
	Cid                  string            `json:"cid"`
	Name                 string            `json:"name"`
	ReplicationFactorMin int               `json:"replication_factor_min"`
	Allocations          []string          `json:"allocations"`
	Metadata             map[string]string `json:"metadata"`
	Origins              []string          `json:"origins"`
	Timestamp            time.Time         `json:"timestamp"`
}

// peerStatus is one peer's entry of a global pin status.
type peerStatus struct {
	PeerName      string    `json:"peername"`
	IPFS          string    `json:"ipfs_peer_id"`
	IPFSAddresses []string  `json:"ipfs_peer_addresses"`
	Status        string    `json:"status"`
	TS            time.Time `json:"timestamp"`
	Error         string    `json:"error"`
}

// globalStatus is the REST API's /pins entry: every peer's view of a CID.
type globalStatus struct {
	Cid     string                `json:"cid"`
	PeerMap map[string]peerStatus `json:"peer_map"`
}

// cluster is a client of the peer's own REST API, with the credentials the
// edge also uses.
type cluster struct {
	base       string
	user, pass string
	http       *http.Client
}

func (c *cluster) do(ctx context.Context, method, path string, query url.Values) (*http.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cluster REST API: %w", err)
	}
	return resp, nil
}

// call decodes one JSON answer into out; 404 is errNotFound.
func (c *cluster) call(ctx context.Context, method, path string, query url.Values, out any) error {
	resp, err := c.do(ctx, method, path, query)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, resp.Body)
		return errNotFound
	}
	if resp.StatusCode/100 != 2 {
		return upstreamError(method, path, resp)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func upstreamError(method, path string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	var e struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	return &clusterError{Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, msg)}
}

// clusterError is a non-2xx answer of the REST API.
type clusterError struct {
	Status  int
	Message string
}

func (e *clusterError) Error() string { return "cluster REST API: " + e.Message }

// stream decodes the REST API's streamed answers (JSON values one after
// another; 204 when there are none), calling each for every value, and
// reports the X-Stream-Error trailer.
func stream[T any](ctx context.Context, c *cluster, path string, query url.Values, each func(T)) error {
	resp, err := c.do(ctx, http.MethodGet, path, query)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if resp.StatusCode/100 != 2 {
		return upstreamError(http.MethodGet, path, resp)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var v T
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("cluster REST API: GET %s: %w", path, err)
		}
		each(v)
	}
	if e := resp.Trailer.Get("X-Stream-Error"); e != "" {
		return fmt.Errorf("cluster REST API: GET %s: %s", path, e)
	}
	return nil
}

func (c *cluster) pin(ctx context.Context, cid string) (clusterPin, error) {
	var p clusterPin
	err := c.call(ctx, http.MethodGet, "/allocations/"+url.PathEscape(cid), nil, &p)
	return p, err
}

// pins are every pin of the shared state.
func (c *cluster) pins(ctx context.Context) ([]clusterPin, error) {
	var out []clusterPin
	err := stream(ctx, c, "/allocations", url.Values{"filter": {"pin"}}, func(p clusterPin) { out = append(out, p) })
	return out, err
}

// status asks every peer for the CID's status.
func (c *cluster) status(ctx context.Context, cid string) (globalStatus, error) {
	var s globalStatus
	err := c.call(ctx, http.MethodGet, "/pins/"+url.PathEscape(cid), nil, &s)
	return s, err
}

// statuses asks every peer for the status of every pin.
func (c *cluster) statuses(ctx context.Context) (map[string]globalStatus, error) {
	out := map[string]globalStatus{}
	err := stream(ctx, c, "/pins", nil, func(s globalStatus) { out[s.Cid] = s })
	return out, err
}

// put pins (or re-pins) cid with the given name, origins and metadata, which
// replace the pin's; its allocations are kept.
func (c *cluster) put(ctx context.Context, cid, name string, origins []string, meta map[string]string) (clusterPin, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	if len(origins) > 0 {
		q.Set("origins", strings.Join(origins, ","))
	}
	for k, v := range meta {
		q.Set("meta-"+k, v)
	}
	var p clusterPin
	err := c.call(ctx, http.MethodPost, "/pins/"+url.PathEscape(cid), q, &p)
	return p, err
}

// kuboPeer is a cluster peer's kubo: its ID and the addresses it
// announces (the REST API's /peers; the pin statuses carry only public
// ones).
type kuboPeer struct {
	ID        string   `json:"id"`
	Addresses []string `json:"addresses"`
}

// kuboPeers maps every cluster peer to its kubo.
func (c *cluster) kuboPeers(ctx context.Context) (map[string]kuboPeer, error) {
	out := map[string]kuboPeer{}
	err := stream(ctx, c, "/peers", nil, func(p struct {
		ID   string   `json:"id"`
		IPFS kuboPeer `json:"ipfs"`
	}) {
		out[p.ID] = p.IPFS
	})
	return out, err
}

func (c *cluster) unpin(ctx context.Context, cid string) error {
	err := c.call(ctx, http.MethodDelete, "/pins/"+url.PathEscape(cid), nil, nil)
	if errors.Is(err, errNotFound) {
		return nil
	}
	return err
}

// health is the REST API's unauthenticated liveness path.
func (c *cluster) health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("cluster REST API health: %d", resp.StatusCode)
	}
	return nil
}
