package psatoken

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestNewParseString(t *testing.T) {
	s := New()
	if len(s.Key) != KeyLength || strings.Trim(s.Key, alnum) != "" {
		t.Fatalf("key %q: want %d alphanumerics", s.Key, KeyLength)
	}
	if New().Key == s.Key {
		t.Fatal("two keys alike")
	}
	back, err := Parse(s.String())
	if err != nil || back.Key != s.Key || len(back.Revoked) != 0 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if want := `{"key":"` + s.Key + `","revoked":{}}`; s.String() != want {
		t.Fatalf("value %s, want the shape the stack generates %s", s.String(), want)
	}
	for _, bad := range []string{``, `[]`, `{"key":"short"}`, `{"revoked":{}}`, `{"key":"` + s.Key + `","revoked":[]}`, `{"key":"` + s.Key + `","revoked":null}`} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%s) accepted", bad)
		}
	}
}

func TestRevokePrunesAndBounds(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New()
	id := strings.Repeat("A", 22)
	if err := s.Revoke(id, now.Unix()+10, now); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(strings.Repeat("B", 22), now.Unix()+100, now.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Revoked[id]; ok || len(s.Revoked) != 1 {
		t.Fatalf("an expired token's entry must be dropped: %v", s.Revoked)
	}
	if err := s.Revoke(strings.Repeat("C", 22), now.Unix()-1, now); err != nil || len(s.Revoked) != 1 {
		t.Fatalf("an already expired token needs no entry: %v %v", s.Revoked, err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 23), strings.Repeat("!", 22)} {
		if err := s.Revoke(bad, now.Unix()+10, now); err == nil {
			t.Errorf("Revoke(%q) accepted", bad)
		}
	}
	big := New()
	var err error
	for i := 0; err == nil && i < 5000; i++ {
		err = big.Revoke(base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("x", 12) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + "zzz"))[:22], now.Unix()+3600, now)
	}
	if err == nil || !strings.Contains(err.Error(), "rotate the key") || len(big.String()) > MaxSecretBytes+200 {
		t.Fatalf("the list must stop near Secrets Manager's limit with advice: %v (%d bytes)", err, len(big.String()))
	}
}

func TestRotate(t *testing.T) {
	s := New()
	old := s.Key
	if err := s.Revoke(strings.Repeat("A", 22), time.Now().Unix()+60, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Rotate()
	if s.Key == old || len(s.Revoked) != 0 {
		t.Fatalf("rotate: new key and an empty list, got %+v", s)
	}
}

func TestReadClaims(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"ipfs-cluster-aws","sub":"ci","jti":"` + strings.Repeat("Q", 22) + `","exp":1800000000}`))
	c, err := ReadClaims("eyJhbGciOiJIUzI1NiJ9." + payload + ".sig\n")
	if err != nil || c.ID != strings.Repeat("Q", 22) || c.Subject != "ci" || c.Expiry != 1800000000 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte(`{"jti":"x","exp":1}`)) + ".c"} {
		if _, err := ReadClaims(bad); err == nil {
			t.Errorf("ReadClaims(%q) accepted", bad)
		}
	}
}

type memStore struct{ value string }

func (m *memStore) Get(context.Context) (string, error)   { return m.value, nil }
func (m *memStore) Put(_ context.Context, v string) error { m.value = v; return nil }

func TestUpdate(t *testing.T) {
	m := &memStore{value: New().String()}
	if err := Update(context.Background(), m, func(s *Secret) error { return s.Revoke(strings.Repeat("Z", 22), time.Now().Unix()+60, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.value, strings.Repeat("Z", 22)) {
		t.Fatalf("not written back: %s", m.value)
	}
	before := m.value
	if err := Update(context.Background(), m, func(*Secret) error { return context.Canceled }); err == nil || m.value != before {
		t.Fatal("a failed change must not be written")
	}
}
