package psa

import (
	"net/url"
	"slices"
	"testing"
	"time"
)

const testCID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"

func TestRequestIDRoundTrip(t *testing.T) {
	now := time.Date(2026, 12, 5, 1, 2, 3, 456789, time.UTC)
	id := newRequestID(now, testCID)
	got, ok := parseRequestID(id.String())
	if !ok || got != id || !got.created.Equal(now) {
		t.Fatalf("parse(%q) = %+v, %v; want %+v", id, got, ok, id)
	}
	if id.String() == testCID || id.key() == RecordPrefix+testCID {
		t.Fatalf("request ID %q must not be the CID", id)
	}
	for _, bad := range []string{testCID, "", "zz" + id.String()[2:], id.String()[:23] + "-" + testCID, id.String() + "/x"} {
		if _, ok := parseRequestID(bad); ok {
			t.Errorf("parseRequestID(%q) accepted", bad)
		}
	}
}

func TestClockIsStrictlyIncreasing(t *testing.T) {
	var c clock
	now := time.Now()
	a, b := c.next(now), c.next(now)
	if !b.After(a) {
		t.Fatalf("%v then %v", a, b)
	}
}

func TestPinStatus(t *testing.T) {
	peers := func(statuses ...string) globalStatus {
		s := globalStatus{Cid: testCID, PeerMap: map[string]peerStatus{}}
		for i, st := range statuses {
			s.PeerMap[string(rune('a'+i))] = peerStatus{Status: st, Error: "boom"}
		}
		return s
	}
	cases := []struct {
		min      int
		statuses []string
		want     string
	}{
		{2, []string{"pinned", "pinned", "pin_error"}, statusPinned}, // failed must not win over pinned
		{2, []string{"pinned", "pinning", "remote"}, statusPinning},
		{2, []string{"pinned", "pin_queued", "remote"}, statusQueued},
		{2, []string{"pinned", "pin_error", "remote"}, statusFailed},
		{2, []string{"remote", "remote", "remote"}, statusQueued},
		{-1, []string{"pinned", "pinned", "pinning"}, statusPinning},
		{-1, []string{"pinned", "pinned", "pinned"}, statusPinned},
		{1, []string{"unexpectedly_unpinned", "remote"}, statusFailed},
	}
	for _, c := range cases {
		got, details := pinStatus(clusterPin{ReplicationFactorMin: c.min}, peers(c.statuses...))
		if got != c.want {
			t.Errorf("min %d %v: %s (%s); want %s", c.min, c.statuses, got, details, c.want)
		}
	}
}

func TestDelegatesTakeTheWidestScope(t *testing.T) {
	// c1 and c2 as /peers describes them, c3 only in the pin status.
	kubos := map[string]kuboPeer{
		"c1": {ID: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", Addresses: []string{"/ip4/127.0.0.1/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "/ip4/10.0.1.5/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"}},
		"c2": {ID: "QmSoLPppuBtQSGwKDZT2M73ULpjvfd3aZ6ha4oFGL1KrGM", Addresses: []string{"/ip4/10.0.2.5/tcp/4001", "/ip4/203.0.113.7/udp/4001/quic-v1"}},
	}
	st := globalStatus{PeerMap: map[string]peerStatus{
		"c1": {IPFS: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"},
		"c2": {IPFS: "QmSoLPppuBtQSGwKDZT2M73ULpjvfd3aZ6ha4oFGL1KrGM"},
		"c3": {IPFS: "QmSoLV4Bbm51jM9C4gDYZQ9Cy3U6aXMJDAbzgu2fzaDs64", IPFSAddresses: []string{"/ip4/198.51.100.9/tcp/4001"}},
	}}
	got := delegates(clusterPin{Allocations: []string{"c1", "c2"}}, st, kubos)
	if want := []string{"/ip4/203.0.113.7/udp/4001/quic-v1/p2p/QmSoLPppuBtQSGwKDZT2M73ULpjvfd3aZ6ha4oFGL1KrGM"}; !slices.Equal(got, want) {
		t.Errorf("public: %v; want %v", got, want)
	}
	got = delegates(clusterPin{Allocations: []string{"c1"}}, st, kubos)
	if want := []string{"/ip4/10.0.1.5/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"}; !slices.Equal(got, want) {
		t.Errorf("private: %v; want %v", got, want)
	}
	if got := delegates(clusterPin{}, st, kubos); len(got) != 2 {
		t.Errorf("everywhere: %v; want both public addresses", got)
	}
}

func TestParseList(t *testing.T) {
	l, err := parseList(url.Values{})
	if err != nil || !slices.Equal(l.statuses, []string{statusPinned}) || l.limit != 10 {
		t.Fatalf("no filter: %+v %v; want pinned only, limit 10", l, err)
	}
	l, err = parseList(url.Values{"name": {"x"}})
	if err != nil || len(l.statuses) != 4 {
		t.Fatalf("a name filter: %+v %v; want every status", l, err)
	}
	for _, bad := range []url.Values{
		{"limit": {"0"}}, {"limit": {"1001"}}, {"status": {"done"}}, {"match": {"regex"}},
		{"before": {"yesterday"}}, {"meta": {"[1]"}}, {"cid": {"notacid"}},
	} {
		if _, err := parseList(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	req := request{id: requestID{created: created, cid: testCID}, record: record{Name: "Hello World", Meta: map[string]string{"app": "a"}}}
	for q, want := range map[string]bool{
		"name=Hello+World":                                   true,
		"name=hello+world":                                   false,
		"name=hello+world&match=iexact":                      true,
		"name=lo+Wo&match=partial":                           true,
		"name=LO+WO&match=ipartial":                          true,
		"before=2026-01-01T00:00:00Z":                        false,
		"before=2026-01-01T00:00:00.001Z":                    true,
		"after=2025-12-31T23:59:59Z":                         true,
		`meta={"app":"a"}`:                                   true,
		`meta={"app":"b"}`:                                   false,
		"cid=" + testCID:                                     true,
		"cid=QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn": false,
	} {
		v, _ := url.ParseQuery(q)
		l, err := parseList(v)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got := l.matches(req); got != want {
			t.Errorf("%s: matches = %v; want %v", q, got, want)
		}
	}
}

func TestHoldsVersion(t *testing.T) {
	ts := time.Date(2026, 12, 5, 1, 0, 10, 0, time.UTC)
	before, same := ts.Add(-time.Second), ts
	for _, c := range []struct {
		status       string
		at           time.Time
		holds, knows bool
	}{
		{"pinned", same, true, true},
		{"pinned", before, false, true}, // the previous version
		{"unpinned", same, false, true}, // not in its state yet
		{"pinning", same, true, true},
		{"pinning", before, false, false}, // an ongoing fetch keeps its time
		{"remote", same, false, false},    // never asked
		{"cluster_error", same, false, false},
	} {
		holds, knows := holdsVersion(peerStatus{Status: c.status, TS: c.at}, ts)
		if holds != c.holds || knows != c.knows {
			t.Errorf("%s at %s: holds %v knows %v; want %v %v", c.status, c.at.Format(time.TimeOnly), holds, knows, c.holds, c.knows)
		}
	}
}
