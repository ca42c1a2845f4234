package localcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// kuboRPCTimeout bounds one kubo RPC call of Peer.Kubo's client.
const kuboRPCTimeout = time.Minute

// KuboClient calls a kubo daemon's RPC API (/api/v0, POST only). The API is
// admin-level: each peer binds it to its own loopback address, as the task
// binds it to the task's loopback.
type KuboClient struct {
	Base string // http://<ip>:5001
	HTTP *http.Client
}

func newKuboClient(ip string, timeout time.Duration) *KuboClient {
	return &KuboClient{
		Base: fmt.Sprintf("http://%s:%d", ip, nodespec.KuboRPCPort),
		HTTP: &http.Client{Timeout: timeout},
	}
}

// Call POSTs /api/v0/<path> (path may carry a query) and decodes the JSON
// answer into out.
func (k *KuboClient) Call(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.Base+"/api/v0/"+path, nil)
	if err != nil {
		return err
	}
	resp, err := k.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

// ID is the kubo daemon's peer ID (`ipfs id`).
func (k *KuboClient) ID(ctx context.Context) (string, error) {
	var id struct{ ID string }
	err := k.Call(ctx, "id", &id)
	return id.ID, err
}

// SwarmPeers are the peer IDs the daemon is connected to (`ipfs swarm peers`).
func (k *KuboClient) SwarmPeers(ctx context.Context) ([]string, error) {
	var out struct {
		Peers []struct{ Peer string }
	}
	if err := k.Call(ctx, "swarm/peers", &out); err != nil {
		return nil, err
	}
	var ids []string
	for _, x := range out.Peers {
		ids = append(ids, x.Peer)
	}
	return ids, nil
}

// RecursivePins is the set of CIDs pinned recursively
// (`ipfs pin ls --type=recursive`).
func (k *KuboClient) RecursivePins(ctx context.Context) (map[string]bool, error) {
	var ls struct {
		Keys map[string]struct{ Type string }
	}
	if err := k.Call(ctx, "pin/ls?type=recursive", &ls); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for k := range ls.Keys {
		out[k] = true
	}
	return out, nil
}
