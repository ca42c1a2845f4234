// Package psatoken manages the Pinning Service API's token key secret, the
// JSON the edge (lambda-edge/basic-auth/psa.mjs) signs and verifies tokens
// with: {"key": "<64 alphanumerics>", "revoked": {"<token ID>": <expiry>}}.
//
// Revoke adds one token's ID to the list (until the token's own expiry,
// after which the edge refuses it anyway and the entry is dropped); Rotate
// replaces the key, which revokes every token at once and empties the list.
// Neither touches the REST API password or a peer; each takes effect at an
// edge location when its cache of the secret expires (5 minutes at most).
package psatoken

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
)

// KeyLength is the length of a generated key, as the stack generates it
// (clustersecrets): 64 of [A-Za-z0-9], about 380 bits.
const KeyLength = 64

// MaxLifetime is the longest a token lives (psa.mjs PSA_LIMITS.maxExpiresIn).
const MaxLifetime = 366 * 24 * time.Hour

// MinKeyLength is the shortest key the edge accepts.
const MinKeyLength = 32

// MaxSecretBytes is Secrets Manager's limit on a secret value: with about
// 40 bytes per revoked token, some 1,600 revocations fit. Rotate the key
// when the list grows near it.
const MaxSecretBytes = 65536

var tokenID = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// Secret is the token key secret's value.
type Secret struct {
	Key string
	// Revoked maps a token ID (its jti) to its expiry in Unix seconds.
	Revoked map[string]int64
}

// New returns a secret with a fresh key and nothing revoked.
func New() Secret {
	return Secret{Key: randomAlnum(KeyLength), Revoked: map[string]int64{}}
}

// Parse reads a secret value.
func Parse(value string) (Secret, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &raw); err != nil {
		return Secret{}, errors.New("psatoken: the secret is not a JSON object")
	}
	var s Secret
	if err := json.Unmarshal(raw[edgespec.PSATokenKeyJSONKey], &s.Key); err != nil || len(s.Key) < MinKeyLength {
		return Secret{}, fmt.Errorf("psatoken: %q is not a key of at least %d characters", edgespec.PSATokenKeyJSONKey, MinKeyLength)
	}
	s.Revoked = map[string]int64{}
	if r, ok := raw[edgespec.PSATokenRevokedJSONKey]; ok {
		if err := json.Unmarshal(r, &s.Revoked); err != nil || s.Revoked == nil {
			return Secret{}, fmt.Errorf("psatoken: %q is not an object of token IDs and expiries", edgespec.PSATokenRevokedJSONKey)
		}
	}
	return s, nil
}

// String is the secret's value (JSON on one line), as the edge reads it.
func (s Secret) String() string {
	revoked := s.Revoked
	if revoked == nil {
		revoked = map[string]int64{}
	}
	b, _ := json.Marshal(map[string]any{edgespec.PSATokenKeyJSONKey: s.Key, edgespec.PSATokenRevokedJSONKey: revoked})
	return string(b)
}

// Revoke adds the token ID id, whose token expires at exp, and drops the
// entries of tokens expired by now.
func (s *Secret) Revoke(id string, exp int64, now time.Time) error {
	if !tokenID.MatchString(id) {
		return fmt.Errorf("psatoken: %q is not a token ID (22 characters of A-Z a-z 0-9 _ -, the \"id\" POST /psa/token answered)", id)
	}
	if s.Revoked == nil {
		s.Revoked = map[string]int64{}
	}
	for k, e := range s.Revoked {
		if e <= now.Unix() {
			delete(s.Revoked, k)
		}
	}
	if exp > now.Unix() {
		s.Revoked[id] = exp
	}
	if n := len(s.String()); n > MaxSecretBytes {
		return fmt.Errorf("psatoken: %d bytes with this revocation, over Secrets Manager's %d: rotate the key instead (it revokes every token)", n, MaxSecretBytes)
	}
	return nil
}

// Rotate gives the secret a new key: every token signed with the old one is
// refused, so the revoked list is emptied.
func (s *Secret) Rotate() {
	*s = New()
}

// Claims are what an operator reads from a token to revoke it.
type Claims struct {
	ID      string `json:"jti"`
	Subject string `json:"sub"`
	Expiry  int64  `json:"exp"`
}

// ReadClaims reads a token's claims WITHOUT verifying its signature: an
// operator revoking a token has it in hand; revoking a forged one is
// harmless.
func ReadClaims(token string) (Claims, error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("psatoken: not a JSON Web Token (three base64url parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c Claims
	if err != nil || json.Unmarshal(payload, &c) != nil || !tokenID.MatchString(c.ID) || c.Expiry == 0 {
		return Claims{}, errors.New("psatoken: the token carries no token ID and expiry of this service")
	}
	return c, nil
}

// Store is where the secret lives: Secrets Manager, or a local cluster's
// secrets file.
type Store interface {
	Get(ctx context.Context) (string, error)
	Put(ctx context.Context, value string) error
}

// Update reads the secret from store, applies change and writes it back.
func Update(ctx context.Context, store Store, change func(*Secret) error) error {
	value, err := store.Get(ctx)
	if err != nil {
		return err
	}
	s, err := Parse(value)
	if err != nil {
		return err
	}
	if err := change(&s); err != nil {
		return err
	}
	return store.Put(ctx, s.String())
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomAlnum(n int) string {
	b := make([]byte, 1)
	out := make([]byte, 0, n)
	for len(out) < n {
		rand.Read(b)
		if b[0] < 248 { // 248 = 4*62: no modulo bias
			out = append(out, alnum[int(b[0])%len(alnum)])
		}
	}
	return string(out)
}
