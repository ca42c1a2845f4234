// Package dnslink is a tiny DNS-over-HTTPS responder (RFC 8484, POST and
// GET, over plain HTTP on loopback) that answers _dnslink.<host> TXT
// queries from a table: the local stand-in for the public DNS a deployment
// resolves its websites' DNSLink records in. kubo reaches it through
// DNS.Resolvers (KUBO_DNS_RESOLVERS), which takes DoH URLs only, and over
// plain HTTP only on 127.0.0.1 or localhost, so it listens on 127.0.0.1.
package dnslink

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const mimeType = "application/dns-message"

// Server answers DNSLink TXT queries for the hosts it was given.
type Server struct {
	ttl    time.Duration
	lookup func(host string) (path string, ok bool)
	mu     sync.Mutex
	table  map[string]string // host -> path, for Set
	srv    *http.Server
	url    string
}

// Start listens on 127.0.0.1 (a free port) and answers the records Set
// gives it with ttl. Every other name gets NXDOMAIN.
func Start(ttl time.Duration) (*Server, error) {
	s := &Server{table: map[string]string{}}
	return s, s.listen("127.0.0.1:0", ttl, func(host string) (string, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		p, ok := s.table[host]
		return p, ok
	})
}

// Serve listens on addr and answers _dnslink.<host> with whatever lookup
// says host's DNSLink path is (asked at every query, so a table kept
// elsewhere, a file say, takes effect at once), with ttl.
func Serve(addr string, ttl time.Duration, lookup func(host string) (path string, ok bool)) (*Server, error) {
	s := &Server{}
	return s, s.listen(addr, ttl, lookup)
}

func (s *Server) listen(addr string, ttl time.Duration, lookup func(string) (string, bool)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ttl, s.lookup = ttl, lookup
	s.url = "http://" + l.Addr().String() + Path
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return nil
}

// Path is where the server answers (any path does; this is the one DoH
// clients use by convention).
const Path = "/dns-query"

// URL is the DoH endpoint, for DNS.Resolvers.
func (s *Server) URL() string { return s.url }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Set publishes (or replaces) host's DNSLink: _dnslink.<host> TXT
// "dnslink=<path>", e.g. path /ipfs/<cid>.
func (s *Server) Set(host, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.table[CanonicalHost(host)] = path
}

// CanonicalHost is host as records are keyed: lower case, without the
// trailing dot.
func CanonicalHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var query []byte
	var err error
	switch r.Method {
	case http.MethodPost:
		if r.Header.Get("Content-Type") != mimeType {
			http.Error(w, "want "+mimeType, http.StatusUnsupportedMediaType)
			return
		}
		query, err = io.ReadAll(io.LimitReader(r.Body, 65535))
	case http.MethodGet:
		query, err = base64.RawURLEncoding.DecodeString(r.URL.Query().Get("dns"))
	default:
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	answer, err := s.answer(query)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", mimeType)
	_, _ = w.Write(answer)
}

func (s *Server) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, fmt.Errorf("no question: %w", err)
	}
	var txt string
	name := strings.ToLower(q.Name.String())
	host, isDNSLink := strings.CutPrefix(name, "_dnslink.")
	path, ok := "", false
	if isDNSLink {
		path, ok = s.lookup(CanonicalHost(host))
	}
	if ok {
		txt = "dnslink=" + path
	}

	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if ok && (q.Type == dnsmessage.TypeTXT || q.Type == dnsmessage.TypeALL) {
		if err := b.StartAnswers(); err != nil {
			return nil, err
		}
		err := b.TXTResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: uint32(s.ttl.Seconds())},
			dnsmessage.TXTResource{TXT: []string{txt}})
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}
