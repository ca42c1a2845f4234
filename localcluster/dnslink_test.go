package localcluster

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
)

const testCID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"

// txt asks url for _dnslink.<host> and returns the TXT strings (nil for
// NXDOMAIN).
func txt(t *testing.T, url, host string) []string {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7})
	require.NoError(t, b.StartQuestions())
	require.NoError(t, b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("_dnslink." + host + "."), Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET}))
	q, err := b.Finish()
	require.NoError(t, err)
	resp, err := http.Post(url, "application/dns-message", bytes.NewReader(q))
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	var m dnsmessage.Message
	require.NoError(t, m.Unpack(body))
	var out []string
	for _, a := range m.Answers {
		out = append(out, a.Body.(*dnsmessage.TXTResource).TXT...)
	}
	return out
}

// The records file is the responder's table: a change is answered at
// once, and only names under localhost. with an IPFS path are accepted.
func TestDNSLinkRecords(t *testing.T) {
	t.Setenv(netEnv, "201") // a port no other test of this package takes
	root, err := RepoRoot()
	require.NoError(t, err)
	c, err := New(Options{Root: t.TempDir(), RepoRoot: root})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:10254/dns-query", DNSLinkURL())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.ServeDNSLink(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get(DNSLinkURL())
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)

	assert.Nil(t, txt(t, DNSLinkURL(), "site.localhost"))
	require.NoError(t, c.SetDNSLink("Site.localhost", "/ipfs/"+testCID))
	assert.Equal(t, []string{"dnslink=/ipfs/" + testCID}, txt(t, DNSLinkURL(), "site.localhost"))
	require.NoError(t, c.SetDNSLink("site.localhost", "/ipns/other.localhost"))
	assert.Equal(t, []string{"dnslink=/ipns/other.localhost"}, txt(t, DNSLinkURL(), "site.localhost"))
	records, err := c.DNSLinks()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"site.localhost": "/ipns/other.localhost"}, records)

	require.NoError(t, c.RemoveDNSLink("site.localhost"))
	assert.Nil(t, txt(t, DNSLinkURL(), "site.localhost"))
	assert.ErrorContains(t, c.RemoveDNSLink("site.localhost"), "no DNSLink record for site.localhost")

	for _, bad := range [][2]string{
		{"www.example.org", "/ipfs/" + testCID},
		{"localhost", "/ipfs/" + testCID},
		{"site.localhost", "/ipfs/not-a-cid"},
		{"site.localhost", testCID},
		{"site.localhost", "/ipns/"},
	} {
		assert.Error(t, c.SetDNSLink(bad[0], bad[1]), "%v", bad)
	}
	records, err = c.DNSLinks()
	require.NoError(t, err)
	assert.Empty(t, records)
}

// Every peer's kubo asks the local responder for localhost. names, on top
// of the resolvers the deployment sets.
func TestPeersResolveLocalhostThroughTheResponder(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	for publicSwarm, want := range map[string]string{
		"true":  "localhost.=" + DNSLinkURL(),
		"false": ".=,localhost.=" + DNSLinkURL(),
	} {
		c, err := New(Options{Root: t.TempDir(), RepoRoot: root, Context: map[string]string{config.KeyPublicSwarm: publicSwarm}})
		require.NoError(t, err)
		kubo, _, err := c.PeerEnvironment(1)
		require.NoError(t, err)
		assert.Equal(t, want, kubo["KUBO_DNS_RESOLVERS"], "publicSwarm=%s", publicSwarm)
	}
}
