// Package smoketest checks a running IPFS Cluster through its HTTP fronts:
// the cluster REST API and the kubo gateway. It knows nothing of AWS, so the
// same checks run after a deployment (cmd/smoketest, through CloudFront) and
// against the local cluster of the scenario tests. By hand, against a
// deployed stack (see cmd/smoketest for the flags and the IAM it needs):
//
//	go run ./cmd/smoketest -stack IpfsCluster -region eu-west-1
//
// Run performs, in order:
//
//	api-refuses-missing-credentials  GET /id without credentials answers 401
//	api-refuses-wrong-credentials    GET /id with a wrong password, and with a
//	                                 wrong user name, answers 401
//	peers                            /peers (a stream of JSON objects) lists
//	                                 exactly the expected number of distinct
//	                                 peers, none with a cluster or kubo error
//	standby-api                      (two regions) the REST API through the
//	                                 second region refuses a request without
//	                                 credentials and is answered, three times,
//	                                 by peers of the second region
//	add                              POST /add of unique random bytes answers
//	                                 200 with no X-Stream-Error trailer and the
//	                                 CID computed locally from the bytes
//	pinned                           /pins/<cid> shows the CID pinned on at
//	                                 least replication-factor-min peers, in
//	                                 every region of a two-region cluster
//	gateway                          /ipfs/<cid> returns the bytes unchanged,
//	                                 with kubo's immutable Cache-Control
//	cloudfront-cache-hit             a second read says X-Cache: Hit from
//	                                 cloudfront (CloudFront only)
//	gateway-raw-block                Accept: application/vnd.ipld.raw returns
//	                                 the block: it hashes to the CID and equals
//	                                 the bytes
//	unpin                            DELETE /pins/<cid> answers 200 and the CID
//	                                 leaves the pinset (/allocations/<cid> 404)
//
// The bytes are added with cid-version=1 (which implies raw leaves) and are
// smaller than one chunk, so the root is a single raw block whose CID is
// sha2-256 of the bytes: the add check compares the answered CID with the one
// computed locally, and the raw-block check can demand both that the block
// hashes to the CID (what a verifying client does) and that it equals the
// bytes. The add uses the cluster's default replication, so "pinned" tests
// the deployed replication_factor_min, not a per-request value.
//
// A check that depends on the add is skipped when the add failed; unpin
// runs whenever the add returned a CID, even after later failures or after
// ctx ended (with its own bound). Every wait is bounded by Config.Wait and
// by ctx. No result line and no error carries the password: the server's
// answers quoted in details are scrubbed of it.
package smoketest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Status is a check's outcome.
type Status string

const (
	OK      Status = "ok"
	Fail    Status = "FAIL"
	Skipped Status = "skipped"
)

// Result is one check's line.
type Result struct {
	Name     string
	Status   Status
	Duration time.Duration
	Detail   string
}

func (r Result) String() string {
	d := r.Duration.Round(time.Millisecond)
	if r.Duration < time.Millisecond {
		d = r.Duration.Round(time.Microsecond)
	}
	return fmt.Sprintf("%-7s %-32s %9s  %s", r.Status, r.Name, d, r.Detail)
}

// Failed reports whether any result is a failure.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Config says what to check and how long to wait.
type Config struct {
	// GatewayURL and APIURL are base URLs (scheme and host, no path):
	// the CloudFront distributions, or a local peer or edge.
	GatewayURL, APIURL string
	// Username and Password are the REST API credentials.
	Username, Password string
	// GatewayAuth sends the credentials to the gateway too (a deployment
	// with privateGateway=true).
	GatewayAuth bool
	// ExpectedPeers is the number of cluster peers /peers must list.
	ExpectedPeers int
	// ReplicationFactorMin is how many peers must pin the added bytes.
	ReplicationFactorMin int
	// PeerRegions, for a cluster over several regions, maps each peer's
	// name (its cluster peername) to its region: the added bytes must then
	// be pinned in every region (with ReplicationFactorMin >= the number of
	// regions, the allocator puts a copy in each). Empty: one region.
	PeerRegions map[string]string
	// StandbyAPIURL, when set, is the REST API through the second region
	// (a deployment's SecondRegionRestApiUrl): the standby-api check asks it
	// who answers, which must be a peer of StandbyRegion per PeerRegions,
	// and that it refuses a request without credentials.
	StandbyAPIURL, StandbyRegion string
	// Wait bounds each wait (peers to appear, the pin, the gateway's
	// first answer, the unpin).
	Wait time.Duration
	// HTTP sends every request (nil: a client with a 1-minute timeout).
	HTTP *http.Client
	// CloudFront is true when the fronts are real CloudFront distributions;
	// otherwise the CloudFront-only checks are skipped.
	CloudFront bool
	// OnResult, if set, receives each result as soon as it is known.
	OnResult func(Result)
}

// Size of the random bytes added: below the 256 KiB default chunk, so the
// root is one raw block.
const Size = 16 << 10

func (c *Config) validate() error {
	var errs []error
	for name, u := range map[string]string{"gateway URL": c.GatewayURL, "API URL": c.APIURL} {
		p, err := url.Parse(u)
		if err != nil {
			// The parser's error quotes the URL, which may hold credentials.
			errs = append(errs, fmt.Errorf("%s: not a URL", name))
		} else if (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil {
			errs = append(errs, fmt.Errorf("%s %q: want http(s)://host[:port] without credentials", name, p.Redacted()))
		}
	}
	if c.Username == "" || c.Password == "" {
		errs = append(errs, errors.New("REST API username and password are required"))
	}
	if c.ExpectedPeers < 1 {
		errs = append(errs, fmt.Errorf("expected peers %d: want at least 1", c.ExpectedPeers))
	}
	if c.ReplicationFactorMin < 1 || c.ReplicationFactorMin > c.ExpectedPeers {
		errs = append(errs, fmt.Errorf("replication-factor-min %d: want 1..%d (the expected peers)", c.ReplicationFactorMin, c.ExpectedPeers))
	}
	if regions := c.regions(); len(regions) > 1 && c.ReplicationFactorMin < len(regions) {
		errs = append(errs, fmt.Errorf("replication-factor-min %d across %d regions: want at least %d, or a pin need not reach every region", c.ReplicationFactorMin, len(regions), len(regions)))
	}
	if c.StandbyAPIURL != "" {
		if p, err := url.Parse(c.StandbyAPIURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil {
			errs = append(errs, errors.New("standby API URL: want http(s)://host[:port] without credentials"))
		}
		if !slices.Contains(c.regions(), c.StandbyRegion) {
			errs = append(errs, fmt.Errorf("standby region %q: want one of the peers' regions %v", c.StandbyRegion, c.regions()))
		}
	}
	if c.Wait <= 0 {
		errs = append(errs, errors.New("wait bound must be positive"))
	}
	return errors.Join(errs...)
}

// regions are the distinct regions of PeerRegions, sorted.
func (c *Config) regions() []string {
	var out []string
	for _, region := range c.PeerRegions {
		if !slices.Contains(out, region) {
			out = append(out, region)
		}
	}
	slices.Sort(out)
	return out
}

// run is the state of one Run.
type run struct {
	cfg     Config
	client  *http.Client
	secrets []string // what redact removes
	results []Result
	data    []byte
	cid     string // what the add answered (even if the add failed)
	added   bool   // the add check passed
}

// Run performs the checks and returns their results; the error is only for
// an unusable Config (no check ran). Failed(results) says whether the
// cluster passed.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.GatewayURL = strings.TrimRight(cfg.GatewayURL, "/")
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	cfg.StandbyAPIURL = strings.TrimRight(cfg.StandbyAPIURL, "/")
	r := &run{cfg: cfg, client: cfg.HTTP}
	if r.client == nil {
		r.client = &http.Client{Timeout: time.Minute}
	}
	basic := base64.StdEncoding.EncodeToString([]byte(cfg.Username + ":" + cfg.Password))
	r.secrets = []string{cfg.Password, basic, url.QueryEscape(cfg.Password)}

	r.check("api-refuses-missing-credentials", func() (string, error) { return r.refuses(ctx, "", "") })
	r.check("api-refuses-wrong-credentials", func() (string, error) {
		d1, err := r.refuses(ctx, cfg.Username, randomToken())
		if err != nil {
			return "", fmt.Errorf("wrong password: %w", err)
		}
		d2, err := r.refuses(ctx, "smoketest-"+randomToken()[:8], cfg.Password)
		if err != nil {
			return "", fmt.Errorf("wrong user: %w", err)
		}
		return "wrong password: " + d1 + "; wrong user: " + d2, nil
	})
	r.check("peers", func() (string, error) { return r.peers(ctx) })
	if cfg.StandbyAPIURL != "" {
		r.check("standby-api", func() (string, error) { return r.standby(ctx) })
	}

	r.data = make([]byte, Size)
	rand.Read(r.data)
	r.check("add", func() (string, error) { return r.add(ctx) })
	func() {
		// Deferred so that even a panicking check leaves nothing pinned.
		defer r.unpinAtEnd(ctx)
		r.afterAdd(ctx)
	}()
	return r.results, nil
}

// afterAdd runs the checks that read what the add stored.
func (r *run) afterAdd(ctx context.Context) {
	cfg := r.cfg
	r.needsAdd("pinned", func() (string, error) { return r.pinned(ctx) })
	gatewayOK := false
	r.needsAdd("gateway", func() (string, error) {
		d, err := r.gateway(ctx)
		gatewayOK = err == nil
		return d, err
	})
	switch {
	case !cfg.CloudFront:
		r.skip("cloudfront-cache-hit", "not CloudFront: the local front has no cache")
	case !gatewayOK:
		r.skip("cloudfront-cache-hit", "needs a successful gateway read")
	default:
		r.check("cloudfront-cache-hit", func() (string, error) { return r.cacheHit(ctx) })
	}
	r.needsAdd("gateway-raw-block", func() (string, error) { return r.rawBlock(ctx) })
}

// unpinAtEnd removes what the add may have pinned; it runs even when ctx
// has ended, with a bound of its own.
func (r *run) unpinAtEnd(ctx context.Context) {
	if r.cid == "" {
		r.skip("unpin", "nothing was added")
		return
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Wait)
	defer cancel()
	r.check("unpin", func() (string, error) { return r.unpin(uctx) })
}

func (r *run) check(name string, f func() (string, error)) {
	start := time.Now()
	detail, err := f()
	res := Result{Name: name, Status: OK, Duration: time.Since(start), Detail: detail}
	if err != nil {
		res.Status, res.Detail = Fail, err.Error()
	}
	r.record(res)
}

func (r *run) needsAdd(name string, f func() (string, error)) {
	if !r.added {
		r.skip(name, "needs a successful add")
		return
	}
	r.check(name, f)
}

func (r *run) skip(name, why string) { r.record(Result{Name: name, Status: Skipped, Detail: why}) }

func (r *run) record(res Result) {
	res.Detail = r.redact(res.Detail)
	r.results = append(r.results, res)
	if r.cfg.OnResult != nil {
		r.cfg.OnResult(res)
	}
}

// redact removes the password (and the Authorization value built from it)
// from text that may quote a server's answer.
func (r *run) redact(s string) string {
	for _, sec := range r.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return s
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
