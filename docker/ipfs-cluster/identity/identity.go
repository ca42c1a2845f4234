// Package identity derives every ipfs-cluster peer identity and the cluster
// secret of one cluster from a single seed.
//
// The seed is generated once by Secrets Manager at deploy time and injected
// into every cluster container. From it, HKDF-SHA256 (RFC 5869) with distinct,
// versioned info labels yields:
//
//   - per peer index i: a 32-byte Ed25519 seed -> Ed25519 private key ->
//     libp2p private key and peer ID (what identity.json holds);
//   - the 32-byte cluster secret (libp2p private network key), hex-encoded.
//
// Derivation is deterministic: a task replaced on another host, or a peer
// restarted with an empty volume, comes back with the same peer ID, so the
// other peers' peer_addresses and trusted_peers stay valid without any
// operator step. Changing a label or the salt changes every identity of
// every deployed cluster: never do it without a migration (bump the version
// in the labels instead and keep the old one available).
package identity

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

const (
	// MinSeedLength is the shortest seed accepted, in bytes.
	MinSeedLength = 32
	// MaxPeers bounds the peer index; a cluster here has a handful of peers.
	MaxPeers = 1000

	// salt is fixed: the seed is already high-entropy; the salt only
	// separates this use of the seed from any other.
	salt = "ipfs-cluster-aws/identity"
	// Info labels. Versioned: never change an existing label.
	peerKeyLabelPrefix = "ipfs-cluster-aws/identity/v1/peer-ed25519/"
	secretLabel        = "ipfs-cluster-aws/identity/v1/cluster-secret"
)

// ErrSeedTooShort is returned for seeds shorter than MinSeedLength.
var ErrSeedTooShort = fmt.Errorf("identity seed must be at least %d characters", MinSeedLength)

// Peer is the derived identity of one cluster peer.
type Peer struct {
	Index   int
	ID      peer.ID
	PrivKey crypto.PrivKey
}

// PrivateKeyBase64 returns the libp2p-marshalled (protobuf) private key,
// base64 standard encoding: the format of identity.json "private_key" and of
// the CLUSTER_PRIVATEKEY variable.
func (p *Peer) PrivateKeyBase64() (string, error) {
	b, err := crypto.MarshalPrivateKey(p.PrivKey)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// ValidateSeed checks that a seed is usable. It never includes the seed in
// the error.
func ValidateSeed(seed string) error {
	if len(seed) < MinSeedLength {
		return fmt.Errorf("%w (got %d)", ErrSeedTooShort, len(seed))
	}
	if strings.TrimSpace(seed) != seed {
		// A trailing newline from a file or a copy-paste would silently
		// give every peer another identity.
		return errors.New("identity seed has leading or trailing whitespace")
	}
	return nil
}

func derive(seed, label string, n int) ([]byte, error) {
	if err := ValidateSeed(seed); err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, []byte(seed), []byte(salt), label, n)
}

// DerivePeer derives the identity of the peer with the given 0-based index.
func DerivePeer(seed string, index int) (*Peer, error) {
	if index < 0 || index >= MaxPeers {
		return nil, fmt.Errorf("peer index %d out of range [0,%d)", index, MaxPeers)
	}
	edSeed, err := derive(seed, peerKeyLabelPrefix+strconv.Itoa(index), ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	priv, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(edSeed))
	if err != nil {
		return nil, fmt.Errorf("building libp2p key: %w", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("computing peer ID: %w", err)
	}
	return &Peer{Index: index, ID: id, PrivKey: priv}, nil
}

// DeriveSecret derives the 32-byte cluster secret, hex-encoded (64 chars),
// the format of service.json "cluster.secret" and CLUSTER_SECRET.
func DeriveSecret(seed string) (string, error) {
	b, err := derive(seed, secretLabel, 32)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// PeerIDs returns the peer IDs of peers 0..n-1.
func PeerIDs(seed string, n int) ([]peer.ID, error) {
	if n < 1 || n > MaxPeers {
		return nil, fmt.Errorf("peer count %d out of range [1,%d]", n, MaxPeers)
	}
	ids := make([]peer.ID, n)
	for i := range n {
		p, err := DerivePeer(seed, i)
		if err != nil {
			return nil, err
		}
		ids[i] = p.ID
	}
	return ids, nil
}

// ClusterIdentity is everything one peer needs to join its cluster.
type ClusterIdentity struct {
	Self *Peer
	// Secret is the hex-encoded cluster secret.
	Secret string
	// PeerAddresses holds every OTHER peer's address with /p2p/<id>
	// appended, in index order (service.json cluster.peer_addresses).
	PeerAddresses []string
	// TrustedPeers holds all peer IDs of the cluster including this one,
	// in index order (service.json crdt.trusted_peers).
	TrustedPeers []string
}

// ParseMultiaddrList splits a comma-separated list of multiaddrs and
// validates each one: it must parse, must not already carry a /p2p
// component and must not repeat.
func ParseMultiaddrList(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, errors.New("empty peer multiaddress list")
	}
	parts := strings.Split(list, ",")
	seen := make(map[string]int, len(parts))
	out := make([]string, 0, len(parts))
	for i, s := range parts {
		s = strings.TrimSpace(s)
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("peer multiaddress %d (%q): %w", i, s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_P2P); err == nil {
			return nil, fmt.Errorf("peer multiaddress %d (%q) must not contain /p2p: the peer ID is derived", i, s)
		}
		canon := a.String()
		if j, dup := seen[canon]; dup {
			return nil, fmt.Errorf("peer multiaddress %d (%q) repeats multiaddress %d", i, s, j)
		}
		seen[canon] = i
		out = append(out, canon)
	}
	if len(out) > MaxPeers {
		return nil, fmt.Errorf("%d peer multiaddresses, at most %d supported", len(out), MaxPeers)
	}
	return out, nil
}

// ParseIndexList splits a comma-separated list of peer indices: each a
// whole number in [0, MaxPeers), none repeated.
func ParseIndexList(list string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for i, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n >= MaxPeers {
			return nil, fmt.Errorf("peer index %d (%q): want a whole number in [0,%d)", i, s, MaxPeers)
		}
		if seen[n] {
			return nil, fmt.Errorf("peer index %d repeats", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// PeerIDsOf returns the peer IDs of the peers with the given indices, in
// their order.
func PeerIDsOf(seed string, indices []int) ([]peer.ID, error) {
	ids := make([]peer.ID, len(indices))
	for i, index := range indices {
		p, err := DerivePeer(seed, index)
		if err != nil {
			return nil, err
		}
		ids[i] = p.ID
	}
	return ids, nil
}

// ForPeer derives the identity of peer index and its view of the cluster
// from the ordered list of every peer's cluster swarm multiaddr (without
// /p2p; the entry at position i belongs to peer i).
func ForPeer(seed string, index int, multiaddrs []string) (*ClusterIdentity, error) {
	return ForPeerOf(seed, index, multiaddrs, nil)
}

// ForPeerOf is ForPeer for a cluster whose indices are not the list's
// positions (a second region's peers start at 100): the entry at position i
// belongs to peer indices[i]. nil indices are the positions.
func ForPeerOf(seed string, index int, multiaddrs []string, indices []int) (*ClusterIdentity, error) {
	if err := ValidateSeed(seed); err != nil {
		return nil, err
	}
	if len(multiaddrs) == 0 {
		return nil, errors.New("no peer multiaddresses")
	}
	if indices == nil {
		for i := range multiaddrs {
			indices = append(indices, i)
		}
	} else if len(indices) != len(multiaddrs) {
		return nil, fmt.Errorf("%d peer indices for %d peer multiaddresses", len(indices), len(multiaddrs))
	}
	position := slices.Index(indices, index)
	if position < 0 {
		return nil, fmt.Errorf("peer index %d out of range: not among the %d peers' indices %v", index, len(indices), indices)
	}
	addrs, err := ParseMultiaddrList(strings.Join(multiaddrs, ","))
	if err != nil {
		return nil, err
	}
	secret, err := DeriveSecret(seed)
	if err != nil {
		return nil, err
	}
	ids, err := PeerIDsOf(seed, indices)
	if err != nil {
		return nil, err
	}
	self, err := DerivePeer(seed, index)
	if err != nil {
		return nil, err
	}
	ci := &ClusterIdentity{
		Self:          self,
		Secret:        secret,
		PeerAddresses: make([]string, 0, len(addrs)-1),
		TrustedPeers:  make([]string, 0, len(addrs)),
	}
	for i, a := range addrs {
		ci.TrustedPeers = append(ci.TrustedPeers, ids[i].String())
		if i == position {
			continue
		}
		full, err := ma.NewMultiaddr(a + "/p2p/" + ids[i].String())
		if err != nil {
			return nil, fmt.Errorf("building peer address %d: %w", i, err)
		}
		ci.PeerAddresses = append(ci.PeerAddresses, full.String())
	}
	return ci, nil
}
