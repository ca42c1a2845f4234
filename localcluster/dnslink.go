package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/dnslink"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/proc"
)

// The local DNSLink responder: the stand-in for the public DNS in which a
// deployment's websites publish their _dnslink TXT records. The records
// live in <root>/dnslink.json; a detached responder (package dnslink) reads
// them at every query, so a change is seen at once (kubo then caches an
// answer for DNSLinkTTL). Every peer's kubo asks it for the names under
// localhost. (the KUBO_DNS_RESOLVERS local difference).

// DNSLinkTTL is the TTL of the local records: the shortest the README
// advises for a website's TXT record, so a new version shows soon.
const DNSLinkTTL = 60 * time.Second

// DNSLinkDomain is the domain whose DNSLink names the local responder
// answers; every other name goes where a deployment's would.
const DNSLinkDomain = LocalGatewayDomain

// dnslinkBasePort + LOCALCLUSTER_NET is the responder's port on 127.0.0.1.
const dnslinkBasePort = 10053

const dnslinkURLShape = "http://127.0.0.1:<10053+LOCALCLUSTER_NET>/dns-query"

// DNSLinkURL is the responder's DNS-over-HTTPS URL. kubo takes plain HTTP
// only on 127.0.0.1 or localhost, so the port, not the address, follows
// LOCALCLUSTER_NET.
func DNSLinkURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", dnslinkBasePort+localNet(), dnslink.Path)
}

// dnsResolvers is the deployed KUBO_DNS_RESOLVERS plus the local responder
// for DNSLinkDomain.
func (c *Cluster) dnsResolvers(p *Peer) string {
	kubo, _ := c.deployed(p.Index, len(c.Peers))
	local := DNSLinkDomain + ".=" + DNSLinkURL()
	if v := kubo["KUBO_DNS_RESOLVERS"]; v != "" {
		return v + "," + local
	}
	return local
}

func (c *Cluster) dnslinkFile() string    { return filepath.Join(c.Root, "dnslink.json") }
func (c *Cluster) dnslinkPidfile() string { return filepath.Join(c.Root, "dnslink.pid") }

// DNSLinkLog is where the detached responder writes its log.
func (c *Cluster) DNSLinkLog() string { return filepath.Join(c.Root, "dnslink.log") }

// DNSLinks returns the records: host -> DNSLink path.
func (c *Cluster) DNSLinks() (map[string]string, error) {
	b, err := os.ReadFile(c.dnslinkFile())
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	records := map[string]string{}
	if err := json.Unmarshal(b, &records); err != nil {
		return nil, fmt.Errorf("%s: %w", c.dnslinkFile(), err)
	}
	return records, nil
}

// CheckDNSLink says whether host and path make a record the local peers
// can resolve: a host under DNSLinkDomain, and /ipfs/<cid>[/...] or
// /ipns/<name>[/...].
func CheckDNSLink(host, path string) error {
	var problems []string
	h := dnslink.CanonicalHost(host)
	if !strings.HasSuffix(h, "."+DNSLinkDomain) || strings.ContainsAny(h, " /:_*") {
		problems = append(problems, fmt.Sprintf("host %q: allowed: a name under %s (e.g. site.%s): the peers ask the local responder for those only, every other name goes to the public DNS", host, DNSLinkDomain, DNSLinkDomain))
	}
	ns, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	name, _, _ := strings.Cut(rest, "/")
	switch {
	case ns == "ipfs":
		if _, err := cid.Decode(name); err != nil {
			problems = append(problems, fmt.Sprintf("path %q: %q is not a CID", path, name))
		}
	case ns == "ipns" && name != "":
	default:
		problems = append(problems, fmt.Sprintf("path %q: allowed: /ipfs/<cid>[/...] or /ipns/<name>[/...]", path))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// SetDNSLink adds or replaces host's record.
func (c *Cluster) SetDNSLink(host, path string) error {
	if err := CheckDNSLink(host, path); err != nil {
		return err
	}
	return c.editDNSLinks(func(r map[string]string) error {
		r[dnslink.CanonicalHost(host)] = path
		return nil
	})
}

// RemoveDNSLink removes host's record.
func (c *Cluster) RemoveDNSLink(host string) error {
	return c.editDNSLinks(func(r map[string]string) error {
		h := dnslink.CanonicalHost(host)
		if _, ok := r[h]; !ok {
			return fmt.Errorf("no DNSLink record for %s (have: %s)", h, strings.Join(slices.Sorted(maps.Keys(r)), ", "))
		}
		delete(r, h)
		return nil
	})
}

// editDNSLinks rewrites the records file whole (a temporary file renamed
// into place): the responder reads either the old or the new table.
func (c *Cluster) editDNSLinks(edit func(map[string]string) error) error {
	r, err := c.DNSLinks()
	if err != nil {
		return err
	}
	if err := edit(r); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := c.dnslinkFile() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.dnslinkFile())
}

// ServeDNSLink answers the records on DNSLinkURL until ctx ends.
func (c *Cluster) ServeDNSLink(ctx context.Context) error {
	addr := strings.TrimSuffix(strings.TrimPrefix(DNSLinkURL(), "http://"), dnslink.Path)
	s, err := dnslink.Serve(addr, DNSLinkTTL, func(host string) (string, bool) {
		r, err := c.DNSLinks()
		if err != nil {
			c.logf("dnslink: %v", err)
			return "", false
		}
		p, ok := r[host]
		return p, ok
	})
	if err != nil {
		return fmt.Errorf("local DNSLink responder: %w", err)
	}
	c.logf("DNSLink responder on %s, records in %s", s.URL(), c.dnslinkFile())
	<-ctx.Done()
	return s.Close()
}

// DNSLinkRunning reports whether a detached responder runs for this root.
func (c *Cluster) DNSLinkRunning() bool {
	return proc.Load("DNSLink responder", c.dnslinkPidfile()).Alive()
}

// StartDNSLink starts serve, a command that runs ServeDNSLink for this
// root (the CLI runs itself), detached, unless one already runs, and waits
// until it answers. Its output goes to DNSLinkLog.
func (c *Cluster) StartDNSLink(ctx context.Context, serve *exec.Cmd) error {
	if c.DNSLinkRunning() {
		return nil
	}
	logFile, err := os.OpenFile(c.DNSLinkLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	serve.Stdout, serve.Stderr = logFile, logFile
	p, err := proc.Start("DNSLink responder", c.dnslinkPidfile(), serve, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		// Any HTTP answer will do: a GET without a query is a 400.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, DNSLinkURL(), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		if !p.Alive() {
			return fmt.Errorf("the DNSLink responder exited (log %s)", c.DNSLinkLog())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the DNSLink responder does not answer on %s (log %s)", DNSLinkURL(), c.DNSLinkLog())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StopDNSLink stops a detached responder; none running is fine.
func (c *Cluster) StopDNSLink() error { return stopDetached("DNSLink responder", c.dnslinkPidfile()) }

// stopDetached stops a helper process an earlier run left detached (its
// pidfile); none running is fine.
func stopDetached(name, pidfile string) error {
	p := proc.Load(name, pidfile)
	if p == nil {
		return nil
	}
	defer func() { _ = os.Remove(pidfile) }()
	if _, err := p.Stop(5 * time.Second); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
