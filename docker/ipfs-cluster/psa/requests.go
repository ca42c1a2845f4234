package psa

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	gocid "github.com/ipfs/go-cid"
	ma "github.com/multiformats/go-multiaddr"
)

// A pin request lives in its cluster pin's metadata: one cluster pin per
// CID, one metadata entry per PSA request for that CID. Its key is
// RecordPrefix + the request's stamp; its value the request's name, meta
// and origins as JSON.
//
// The request ID is "<stamp>-<cid>", the stamp being the creation time in
// Unix nanoseconds (16 hex digits) and 32 random bits (8 hex digits): the
// ID alone says which cluster pin holds the request (no index to keep) and
// when it was created (`created` needs no storage and is unique per
// request, as the spec's pagination wants).
const (
	RecordPrefix = "psa-"
	// keptKey marks a pin that existed before its first PSA request: removing
	// the last request then leaves the pin in place.
	keptKey    = RecordPrefix + "kept"
	stampChars = 24
)

var requestIDPattern = regexp.MustCompile(`^([0-9a-f]{16})([0-9a-f]{8})-([A-Za-z0-9]{1,200})$`)

// requestID identifies one pin request.
type requestID struct {
	created time.Time
	stamp   string // 24 hex digits
	cid     string
}

func (r requestID) String() string { return r.stamp + "-" + r.cid }
func (r requestID) key() string    { return RecordPrefix + r.stamp }

func newRequestID(now time.Time, cid string) requestID {
	var b [4]byte
	rand.Read(b[:])
	stamp := fmt.Sprintf("%016x%s", uint64(now.UnixNano()), hex.EncodeToString(b[:]))
	return requestID{created: time.Unix(0, now.UnixNano()).UTC(), stamp: stamp, cid: cid}
}

func parseRequestID(s string) (requestID, bool) {
	m := requestIDPattern.FindStringSubmatch(s)
	if m == nil {
		return requestID{}, false
	}
	ns, err := strconv.ParseUint(m[1], 16, 64)
	if err != nil || ns > 1<<62 {
		return requestID{}, false
	}
	return requestID{created: time.Unix(0, int64(ns)).UTC(), stamp: m[1] + m[2], cid: m[3]}, true
}

// record is one request as stored in the pin's metadata.
type record struct {
	Name    string            `json:"n,omitempty"`
	Meta    map[string]string `json:"m,omitempty"`
	Origins []string          `json:"o,omitempty"`
}

// request is a stored request with its ID.
type request struct {
	id requestID
	record
}

// requestsOf returns the PSA requests a cluster pin holds, newest first.
func requestsOf(p clusterPin) []request {
	var out []request
	for k, v := range p.Metadata {
		if !strings.HasPrefix(k, RecordPrefix) || len(k) != len(RecordPrefix)+stampChars {
			continue
		}
		id, ok := parseRequestID(k[len(RecordPrefix):] + "-" + p.Cid)
		if !ok {
			continue
		}
		var r record
		if json.Unmarshal([]byte(v), &r) != nil {
			continue
		}
		out = append(out, request{id: id, record: r})
	}
	sortNewestFirst(out)
	return out
}

func sortNewestFirst(rs []request) {
	sort.Slice(rs, func(a, b int) bool {
		if !rs[a].id.created.Equal(rs[b].id.created) {
			return rs[a].id.created.After(rs[b].id.created)
		}
		return rs[a].id.stamp > rs[b].id.stamp
	})
}

// Limits of one request, as the spec states them, and of what the origin
// stores per request (the edge checks tighter ones first).
const (
	maxNameLength   = 255
	maxOrigins      = 20
	maxDelegates    = 20
	maxCIDFilter    = 10
	maxRecordBytes  = 8 << 10
	defaultLimit    = 10
	maxLimit        = 1000
	maxMetaEntries  = 1000
	maxPinQueryByte = 48 << 10
)

// pinBody is the spec's Pin object.
type pinBody struct {
	Cid     string            `json:"cid"`
	Name    string            `json:"name,omitempty"`
	Origins []string          `json:"origins"`
	Meta    map[string]string `json:"meta"`
}

// validate checks a Pin object and returns the CID in its canonical form.
func (b *pinBody) validate() (string, error) {
	c, err := gocid.Decode(b.Cid)
	if err != nil {
		return "", fmt.Errorf("cid %q: %v", b.Cid, err)
	}
	if len(b.Name) > maxNameLength {
		return "", fmt.Errorf("name: %d characters; allowed: up to %d", len(b.Name), maxNameLength)
	}
	if len(b.Origins) > maxOrigins {
		return "", fmt.Errorf("origins: %d; allowed: up to %d", len(b.Origins), maxOrigins)
	}
	for _, o := range b.Origins {
		if _, err := ma.NewMultiaddr(o); err != nil {
			return "", fmt.Errorf("origins: %q is not a multiaddr: %v", o, err)
		}
	}
	if len(b.Meta) > maxMetaEntries {
		return "", fmt.Errorf("meta: %d entries; allowed: up to %d", len(b.Meta), maxMetaEntries)
	}
	return c.String(), nil
}

// dialableOrigins are the origins the cluster takes: it needs each
// origin's peer ID.
func dialableOrigins(origins []string) []string {
	var out []string
	for _, o := range origins {
		m, err := ma.NewMultiaddr(o)
		if err != nil {
			continue
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err == nil && !strings.Contains(o, ",") {
			out = append(out, o)
		}
	}
	return out
}

// Status values of the spec.
const (
	statusQueued  = "queued"
	statusPinning = "pinning"
	statusPinned  = "pinned"
	statusFailed  = "failed"
)

var allStatuses = []string{statusQueued, statusPinning, statusPinned, statusFailed}

// pinStatus is the spec's status of a cluster pin: pinned once it is pinned
// on at least its replication minimum of peers (all peers for a pin
// everywhere), whatever the others say; otherwise pinning while a peer
// fetches, queued while one waits, failed when the peers that tried gave
// up (the cluster retries them; the status follows).
func pinStatus(p clusterPin, s globalStatus) (status, details string) {
	threshold := p.ReplicationFactorMin
	if threshold <= 0 {
		threshold = len(s.PeerMap)
	}
	var pinned, pinning, queued, failed int
	var firstError string
	for _, ps := range s.PeerMap {
		switch ps.Status {
		case "pinned":
			pinned++
		case "pinning":
			pinning++
		case "pin_queued":
			queued++
		case "pin_error", "unexpectedly_unpinned":
			failed++
			if firstError == "" {
				firstError = ps.Error
			}
		}
	}
	details = fmt.Sprintf("pinned on %d of %d peers (replication minimum %d)", pinned, len(s.PeerMap), threshold)
	switch {
	case threshold > 0 && pinned >= threshold:
		return statusPinned, details
	case pinning > 0:
		return statusPinning, details
	case queued > 0:
		return statusQueued, details
	case failed > 0:
		if firstError != "" {
			details += ": " + firstError
		}
		return statusFailed, details
	}
	return statusQueued, details
}

// Address scopes, best first: a client dials a delegate from where it is.
const (
	scopePublic = iota
	scopePrivate
	scopeLoopback
	scopeNone
)

func addressScope(m ma.Multiaddr) int {
	if len(m) == 0 {
		return scopeNone
	}
	switch m[0].Code() {
	case ma.P_DNS, ma.P_DNS4, ma.P_DNS6, ma.P_DNSADDR:
		return scopePublic
	case ma.P_IP4, ma.P_IP6:
		ip, err := netip.ParseAddr(m[0].Value())
		if err != nil {
			return scopeNone
		}
		switch {
		case ip.IsLoopback():
			return scopeLoopback
		case ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalUnicast():
			return scopeNone
		case ip.IsPrivate(), netip.MustParsePrefix("100.64.0.0/10").Contains(ip):
			return scopePrivate
		case ip.IsGlobalUnicast():
			return scopePublic
		}
	}
	return scopeNone
}

// delegates are the kubo swarm addresses of the peers that hold the pin
// (every peer for a pin everywhere), each with /p2p: only the widest scope
// found (public addresses if any peer has one, else private ones, else
// loopback), so a client gets addresses it can dial from where the
// cluster's clients are. At most 20, as the spec allows.
func delegates(p clusterPin, s globalStatus, kubos map[string]kuboPeer) []string {
	peers := slices.Clone(p.Allocations)
	if len(peers) == 0 {
		for id := range s.PeerMap {
			peers = append(peers, id)
		}
	}
	slices.Sort(peers)
	byScope := map[int][]string{}
	seen := map[string]bool{}
	for _, id := range peers {
		k := kubos[id]
		if ps, ok := s.PeerMap[id]; ok && k.ID == "" {
			k = kuboPeer{ID: ps.IPFS, Addresses: ps.IPFSAddresses}
		}
		if k.ID == "" {
			continue
		}
		for _, a := range k.Addresses {
			m, err := ma.NewMultiaddr(a)
			if err != nil {
				continue
			}
			if _, err := m.ValueForProtocol(ma.P_P2P); err != nil {
				a += "/p2p/" + k.ID
			}
			scope := addressScope(m)
			if scope == scopeNone || seen[a] {
				continue
			}
			seen[a] = true
			byScope[scope] = append(byScope[scope], a)
		}
	}
	for scope := scopePublic; scope < scopeNone; scope++ {
		if l := byScope[scope]; len(l) > 0 {
			return l[:min(len(l), maxDelegates)]
		}
	}
	return []string{}
}

// matchName applies the spec's text matching strategies.
func matchName(name, filter, strategy string) bool {
	switch strategy {
	case "iexact":
		return strings.EqualFold(name, filter)
	case "partial":
		return strings.Contains(name, filter)
	case "ipartial":
		return strings.Contains(strings.ToLower(name), strings.ToLower(filter))
	}
	return name == filter
}

// stampNow returns a time that is never equal to the previous one, so
// every request's created is unique within this process.
type clock struct{ last int64 }

func (c *clock) next(now time.Time) time.Time {
	n := now.UnixNano()
	if n <= c.last {
		n = c.last + 1
	}
	c.last = n
	return time.Unix(0, n)
}
