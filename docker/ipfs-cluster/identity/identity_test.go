package identity

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

const testSeed = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"

// Known-answer vector. Cross-checked independently of this package (Python
// hmac/hashlib HKDF + pyca/cryptography Ed25519 + base58 of the identity
// multihash). If this test fails, the derivation changed: every deployed
// cluster would get new peer IDs and a new secret.
var kav = struct {
	ids    []string
	key0   string
	secret string
}{
	ids: []string{
		"12D3KooWHVbKknb2BRu47Tk34uBpBkn6EWRbXXnL6Ncemx1kF8pU",
		"12D3KooWMKtivFS5rfu8PhoDDAREhuxwdxJaSdazrsHFZwxFJoVP",
		"12D3KooWLm1qHbP6bxinTUDsLrxXouEkPPuwNRzqBSmoRhzGhRf3",
	},
	key0:   "CAESQPZIDYC7GRDxZ4I0aeltHK5kyiwa0i+h4uwB9MVYtYMscg5VuVpRCBRizxws2aMXKSZrC4hCbgevg4Eoqrr8q10=",
	secret: "e0d9de1b4aeb89f0491c05ae08770b596cb606ca383f0f382323ccec1af4fb3f",
}

func TestKnownAnswer(t *testing.T) {
	for i, want := range kav.ids {
		p, err := DerivePeer(testSeed, i)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID.String() != want {
			t.Errorf("peer %d: ID %s, want %s", i, p.ID, want)
		}
	}
	p0, _ := DerivePeer(testSeed, 0)
	if k, _ := p0.PrivateKeyBase64(); k != kav.key0 {
		t.Errorf("peer 0 private key changed")
	}
	if s, _ := DeriveSecret(testSeed); s != kav.secret {
		t.Errorf("secret %s, want %s", s, kav.secret)
	}
}

func TestDeterministic(t *testing.T) {
	for i := range 5 {
		a, err := DerivePeer(testSeed, i)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := DerivePeer(testSeed, i)
		if a.ID != b.ID || !a.PrivKey.Equals(b.PrivKey) {
			t.Fatalf("peer %d differs between runs", i)
		}
	}
	s1, _ := DeriveSecret(testSeed)
	s2, _ := DeriveSecret(testSeed)
	if s1 != s2 {
		t.Fatal("secret differs between runs")
	}
}

func TestDistinct(t *testing.T) {
	ids, err := PeerIDs(testSeed, 50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[peer.ID]int{}
	for i, id := range ids {
		if j, ok := seen[id]; ok {
			t.Fatalf("peers %d and %d share ID %s", j, i, id)
		}
		seen[id] = i
	}
	// Another seed gives other peers and another secret.
	other := strings.Replace(testSeed, "0", "x", 1)
	p, _ := DerivePeer(other, 0)
	if p.ID == ids[0] {
		t.Fatal("different seeds gave the same peer 0")
	}
	s1, _ := DeriveSecret(testSeed)
	s2, _ := DeriveSecret(other)
	if s1 == s2 {
		t.Fatal("different seeds gave the same secret")
	}
	// The secret is not any peer's key material.
	k, _ := ids[0].ExtractPublicKey()
	raw, _ := k.Raw()
	if hex.EncodeToString(raw) == s1 {
		t.Fatal("secret equals a public key")
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	for i := range 3 {
		p, err := DerivePeer(testSeed, i)
		if err != nil {
			t.Fatal(err)
		}
		if p.PrivKey.Type() != crypto.Ed25519 {
			t.Fatalf("key type %v, want Ed25519", p.PrivKey.Type())
		}
		enc, err := p.PrivateKeyBase64()
		if err != nil {
			t.Fatal(err)
		}
		// What ipfs-cluster's config.Identity.applyIdentityJSON does.
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := crypto.UnmarshalPrivateKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !priv.Equals(p.PrivKey) {
			t.Fatal("round-tripped key differs")
		}
		id, err := peer.Decode(p.ID.String())
		if err != nil {
			t.Fatal(err)
		}
		if !id.MatchesPrivateKey(priv) {
			t.Fatalf("peer %d: ID does not match private key", i)
		}
		// Sign/verify with the ID's embedded public key.
		msg := []byte("hello")
		sig, err := priv.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := id.ExtractPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := pub.Verify(msg, sig); err != nil || !ok {
			t.Fatalf("signature does not verify: %v", err)
		}
	}
}

func TestSecretFormat(t *testing.T) {
	s, err := DeriveSecret(testSeed)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 64 {
		t.Fatalf("secret length %d, want 64", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("secret is not 32 hex-encoded bytes: %v", err)
	}
	if strings.ToLower(s) != s {
		t.Fatal("secret not lower-case hex")
	}
}

func TestSeedValidation(t *testing.T) {
	short := testSeed[:MinSeedLength-1]
	if _, err := DerivePeer(short, 0); !errors.Is(err, ErrSeedTooShort) {
		t.Fatalf("short seed: got %v, want ErrSeedTooShort", err)
	}
	if _, err := DeriveSecret(""); !errors.Is(err, ErrSeedTooShort) {
		t.Fatalf("empty seed: got %v", err)
	}
	if _, err := ForPeer(short, 0, []string{"/ip4/10.0.0.1/tcp/9096"}); !errors.Is(err, ErrSeedTooShort) {
		t.Fatalf("ForPeer short seed: got %v", err)
	}
	if err := ValidateSeed(short); err == nil || strings.Contains(err.Error(), short) {
		t.Fatalf("error must not echo the seed: %v", err)
	}
	if _, err := DerivePeer(testSeed[:MinSeedLength], 0); err != nil {
		t.Fatalf("seed of exactly %d chars refused: %v", MinSeedLength, err)
	}
	if _, err := DerivePeer(testSeed+"\n", 0); err == nil {
		t.Fatal("seed with trailing newline accepted")
	}
	if _, err := DerivePeer(testSeed, -1); err == nil {
		t.Fatal("negative index accepted")
	}
}

func TestForPeer(t *testing.T) {
	addrs := []string{
		"/dns4/node0.ipfs-cluster.internal/tcp/9096",
		"/dns4/node1.ipfs-cluster.internal/tcp/9096",
		"/ip4/10.0.2.7/tcp/9096",
	}
	for idx := range addrs {
		ci, err := ForPeer(testSeed, idx, addrs)
		if err != nil {
			t.Fatal(err)
		}
		if ci.Self.ID.String() != kav.ids[idx] {
			t.Fatalf("self ID %s, want %s", ci.Self.ID, kav.ids[idx])
		}
		if ci.Secret != kav.secret {
			t.Fatal("secret mismatch")
		}
		if strings.Join(ci.TrustedPeers, ",") != strings.Join(kav.ids, ",") {
			t.Fatalf("trusted peers %v", ci.TrustedPeers)
		}
		if len(ci.PeerAddresses) != len(addrs)-1 {
			t.Fatalf("peer addresses %v", ci.PeerAddresses)
		}
		var want []string
		for i, a := range addrs {
			if i != idx {
				want = append(want, a+"/p2p/"+kav.ids[i])
			}
		}
		if strings.Join(ci.PeerAddresses, ",") != strings.Join(want, ",") {
			t.Fatalf("peer %d: peer addresses\n got %v\nwant %v", idx, ci.PeerAddresses, want)
		}
		for _, a := range ci.PeerAddresses {
			if strings.Contains(a, ci.Self.ID.String()) {
				t.Fatalf("own address listed: %s", a)
			}
		}
	}

	single, err := ForPeer(testSeed, 0, addrs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if len(single.PeerAddresses) != 0 || len(single.TrustedPeers) != 1 {
		t.Fatalf("single peer cluster: %+v", single)
	}
}

func TestForPeerRejects(t *testing.T) {
	ok := []string{"/ip4/127.0.0.21/tcp/9096", "/ip4/127.0.0.22/tcp/9096"}
	cases := map[string]struct {
		index int
		addrs []string
	}{
		"index too high":    {2, ok},
		"negative index":    {-1, ok},
		"no addrs":          {0, nil},
		"garbage":           {0, []string{"not-a-multiaddr", ok[1]}},
		"empty entry":       {0, []string{ok[0], ""}},
		"unknown protocol":  {0, []string{"/ip4/1.2.3.4/tcpx/1"}},
		"already has /p2p":  {0, []string{ok[0] + "/p2p/" + kav.ids[0], ok[1]}},
		"duplicate address": {0, []string{ok[0], ok[0]}},
	}
	for name, c := range cases {
		if _, err := ForPeer(testSeed, c.index, c.addrs); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseMultiaddrList(t *testing.T) {
	got, err := ParseMultiaddrList(" /ip4/127.0.0.21/tcp/9096 ,/dns4/node1.x/tcp/9096")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "/ip4/127.0.0.21/tcp/9096" || got[1] != "/dns4/node1.x/tcp/9096" {
		t.Fatalf("got %v", got)
	}
	if _, err := ParseMultiaddrList("  "); err == nil {
		t.Fatal("blank list accepted")
	}
}
