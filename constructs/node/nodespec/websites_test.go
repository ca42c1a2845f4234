package nodespec

import (
	"strings"
	"testing"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

func TestGatewayHostsAndResolversReachKubo(t *testing.T) {
	s := Settings{
		PeerCount: 3, Namespace: "ipfs-cluster.internal", Zone: "eu-west-1a", Region: "eu-west-1",
		SubdomainGatewayHosts: []string{"gw.example.org"},
		DNSLinkHosts:          []string{"www.example.org", "docs.example.net"},
		DNSResolvers:          map[string]string{".": "", "localhost.": "http://127.0.0.1:8053/dns-query"},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	kubo, _ := s.Environment()
	for name, want := range map[string]string{
		"KUBO_SUBDOMAIN_GATEWAY_HOSTS": "gw.example.org",
		"KUBO_DNSLINK_HOSTS":           "www.example.org,docs.example.net",
		// Sorted by domain, so that the task definition does not change
		// with Go's map order.
		"KUBO_DNS_RESOLVERS": ".=,localhost.=http://127.0.0.1:8053/dns-query",
	} {
		if kubo[name] != want {
			t.Errorf("%s = %q, want %q", name, kubo[name], want)
		}
	}
}

func TestGatewayHostProblems(t *testing.T) {
	err := Settings{
		PeerCount: 3, Namespace: "ipfs-cluster.internal", Zone: "eu-west-1a", Region: "eu-west-1",
		PublicGatewayHosts:    []string{"a.example.org"},
		SubdomainGatewayHosts: []string{"a.example.org", "*.example.org"},
		DNSLinkHosts:          []string{"b.example.org", "b.example.org"},
		DNSResolvers:          map[string]string{"example.org": "", ".": "udp://10.0.0.2", "test.": "https://x/dns-query?a=b,c", "example.": "http://10.0.0.2/dns-query"},
	}.Validate()
	want := []string{
		`SubdomainGatewayHosts: "a.example.org" is also in PublicGatewayHosts; allowed: one role per host name`,
		`SubdomainGatewayHosts: "*.example.org" is not a host name`,
		`DNSLinkHosts: "b.example.org" is listed twice`,
		`DNSResolvers: domain "example.org"; allowed: "." or a lower-case DNS name ending in "."`,
		`DNSResolvers: "udp://10.0.0.2" for "."; allowed: "" (the system resolver) or a DNS-over-HTTPS URL`,
		`DNSResolvers: "https://x/dns-query?a=b,c" for "test."`,
		`DNSResolvers: "http://10.0.0.2/dns-query" for "example."; allowed: "" (the system resolver) or a DNS-over-HTTPS URL https://host[:port]/path without commas or quotes, http:// only on 127.0.0.1 or localhost`,
	}
	got := propcheck.Problems(err)
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(got), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}
