package dnslink

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func query(t *testing.T, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 4242, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	q, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func parse(t *testing.T, resp *http.Response) dnsmessage.Message {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != mimeType {
		t.Fatalf("%s %q: %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var m dnsmessage.Message
	if err := m.Unpack(body); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAnswersDNSLinkTXTOverPostAndGet(t *testing.T) {
	s, err := Start(90 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	s.Set("Site.Localhost", "/ipfs/bafyfirst")
	s.Set("site.localhost", "/ipfs/bafysecond") // a new version replaces the old

	resp, err := http.Post(s.URL(), mimeType, bytes.NewReader(query(t, "_dnslink.site.localhost.", dnsmessage.TypeTXT)))
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, resp)
	if m.ID != 4242 || !m.Response || m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 1 {
		t.Fatalf("answer: %+v", m)
	}
	txt, ok := m.Answers[0].Body.(*dnsmessage.TXTResource)
	if !ok || len(txt.TXT) != 1 || txt.TXT[0] != "dnslink=/ipfs/bafysecond" || m.Answers[0].Header.TTL != 90 {
		t.Fatalf("record: %+v %+v", m.Answers[0].Header, m.Answers[0].Body)
	}

	resp, err = http.Get(s.URL() + "?dns=" + base64.RawURLEncoding.EncodeToString(query(t, "_dnslink.other.localhost.", dnsmessage.TypeTXT)))
	if err != nil {
		t.Fatal(err)
	}
	if m := parse(t, resp); m.RCode != dnsmessage.RCodeNameError || len(m.Answers) != 0 {
		t.Fatalf("unknown name: %+v", m)
	}
	// Other record types of a known name: no data, not an error.
	resp, err = http.Post(s.URL(), mimeType, bytes.NewReader(query(t, "_dnslink.site.localhost.", dnsmessage.TypeA)))
	if err != nil {
		t.Fatal(err)
	}
	if m := parse(t, resp); m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 0 {
		t.Fatalf("A query: %+v", m)
	}
}
