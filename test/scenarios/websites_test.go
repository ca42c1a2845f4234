package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// Two small websites: relative links, a nested page, assets and a 404 page.
// kubo v0.43 (boxo) has dropped the old ipfs-404.html convention: a site
// names its error pages in a _redirects file (IPIP-290), which kubo applies
// only where the site has an origin of its own (a subdomain or a DNSLink
// host), never on a path gateway.
func websiteFiles(name string) map[string]string {
	return map[string]string{
		"index.html": `<!doctype html><html><head><title>` + name + `</title>` +
			`<link rel="stylesheet" href="style.css"><script src="js/app.js"></script></head>` +
			`<body><h1>` + name + ` home</h1><a href="about/">About</a> <img src="img/logo.svg" alt=""></body></html>`,
		"about/index.html": `<!doctype html><html><head><link rel="stylesheet" href="../style.css"></head>` +
			`<body><h1>` + name + ` about</h1><a href="../">Home</a></body></html>`,
		"style.css":    "body { font-family: sans-serif; } /* " + name + " */\n",
		"js/app.js":    "console.log(" + fmt.Sprintf("%q", name) + ");\n",
		"img/logo.svg": `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><title>` + name + `</title></svg>`,
		"404.html":     `<!doctype html><html><body><h1>` + name + ` has no such page</h1></body></html>`,
		"_redirects":   "/*  /404.html  404\n",
	}
}

var contentTypes = map[string]string{
	".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml",
}

// What is left of the record's TTL in kubo's cache: 1 to
// localcluster.DNSLinkTTL (60) seconds.
var dnslinkCacheControl = regexp.MustCompile(`^public, max-age=([1-5]?[0-9]|60)$`)

var linkAttr = regexp.MustCompile(`(?:href|src)="([^"]+)"`)

// The deployment's website hosting, run locally from the command line as
// README "Hosting a website → Try it locally" shows it: `localcluster -c
// websiteDomains=... up` (no certificate locally), the sites added with
// ipfs-cluster-ctl add -r through the local edge, `localcluster dnslink
// add` for their records; the peers get the configuration a deployment
// with websiteDomains gets (localhost is the subdomain gateway domain), the
// local edge forwards Host as the gateway and websites distributions do,
// and the local DNSLink responder plays the public DNS. Every request goes
// through the local edge with the Host header a browser would send to it.
func TestWebsitesOnSubdomainsAndDNSLink(t *testing.T) {
	ctx := scenarioCtx(t, 20*time.Minute)
	root := filepath.Join(dataRoot, "websites")
	websites := config.KeyWebsiteDomains + "=site-a.localhost,site-b.localhost"
	upCLI(t, ctx, root, "-c", websites)
	c := localClusterAt(t, root, map[string]string{config.KeyWebsiteDomains: "site-a.localhost,site-b.localhost"})
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, c)
		}
	})
	kubo, _, err := c.PeerEnvironment(0)
	if err != nil {
		t.Fatal(err)
	}
	if kubo["KUBO_DNSLINK_HOSTS"] != "site-a.localhost,site-b.localhost" || kubo["KUBO_SUBDOMAIN_GATEWAY_HOSTS"] != localcluster.LocalGatewayDomain {
		t.Fatalf("the peers' gateway hosts do not follow the configuration: %v", kubo)
	}
	gateway, _ := c.EdgeURLs()
	gw, err := url.Parse(gateway)
	if err != nil {
		t.Fatal(err)
	}
	v := viewer{edge: gw.Host, port: gw.Port()}
	dnslinkAdd := func(host, cid string) {
		t.Helper()
		mustCLI(t, ctx, "localcluster", "-root", root, "dnslink", "add", host, "/ipfs/"+cid)
	}

	sites := map[string]map[string]string{"A": websiteFiles("Site A"), "B": websiteFiles("Site B")}
	cids := map[string]string{}
	for name, files := range sites {
		cids[name] = addSite(t, ctx, c, files)
	}

	// 1. The path URL redirects to the content root's own origin, CIDv1
	// in base32 (DNS names are case-insensitive), the rest of the path
	// kept.
	origins := map[string]string{}
	for name, cid := range cids {
		res := v.get(t, ctx, "localhost", "/ipfs/"+cid+"/about/?x=1")
		loc := res.Header.Get("Location")
		m := regexp.MustCompile(`^http://(b[a-z2-7]{58})\.ipfs\.localhost:` + v.port + `/about/\?x=1$`).FindStringSubmatch(loc)
		if res.StatusCode != http.StatusMovedPermanently || m == nil {
			t.Fatalf("site %s: GET localhost/ipfs/%s/about/ answered %d Location %q; want 301 to http://<cidv1 base32>.ipfs.localhost:%s/about/?x=1", name, cid, res.StatusCode, loc, v.port)
		}
		origins[name] = m[1] + ".ipfs.localhost"
	}
	if origins["A"] == origins["B"] {
		t.Fatalf("two sites share the origin %s", origins["A"])
	}

	// 2. Each site on its subdomain: every page and asset its pages link
	// to, with its content type; immutable caching as on /ipfs/.
	for name, files := range sites {
		host := origins[name]
		v.crawl(t, ctx, host, files, regexp.MustCompile(`^public, max-age=29030400, immutable$`))
		v.notFound(t, ctx, host, "/no/such/page", files["404.html"])
	}

	// 3. Two sites do not share an origin: on A's origin, B's root is a
	// path inside A (404), never B.
	if res := v.get(t, ctx, origins["A"], "/ipfs/"+cids["B"]+"/"); res.StatusCode != http.StatusNotFound || strings.Contains(res.body, "Site B") {
		t.Fatalf("B's content on A's origin: %d %.200s", res.StatusCode, res.body)
	}

	// 4. DNSLink: the configured hosts serve the sites their _dnslink TXT
	// names, with the record's TTL as max-age (a short TTL; CloudFront caps
	// website responses at 5 minutes on top).
	dnslinkAdd("site-a.localhost", cids["A"])
	dnslinkAdd("site-b.localhost", cids["B"])
	if out := mustCLI(t, ctx, "localcluster", "-root", root, "dnslink", "list"); !strings.Contains(out, "_dnslink.site-a.localhost\tdnslink=/ipfs/"+cids["A"]) ||
		!strings.Contains(out, "answering on "+localcluster.DNSLinkURL()) {
		t.Errorf("dnslink list does not show the records and the responder")
	}
	for name, host := range map[string]string{"A": "site-a.localhost", "B": "site-b.localhost"} {
		v.crawl(t, ctx, host, sites[name], dnslinkCacheControl)
		v.notFound(t, ctx, host, "/missing.html", sites[name]["404.html"])
		// No other content on a site's origin.
		if res := v.get(t, ctx, host, "/ipfs/"+cids[otherSite(name)]+"/"); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s/ipfs/<the other site>/ answered %d, want 404", host, res.StatusCode)
		}
	}
	// 5. A host that is not configured is never served by its DNSLink
	// (Gateway.NoDNSLink): it is a plain path gateway.
	dnslinkAdd("site-c.localhost", cids["B"])
	if res := v.get(t, ctx, "site-c.localhost", "/"); res.StatusCode == http.StatusOK || strings.Contains(res.body, "Site B") {
		t.Fatalf("an unconfigured host with a DNSLink record served it: %d %.200s", res.StatusCode, res.body)
	}
	// Names outside localhost. never reach the local responder: refused.
	if code, out := cli(t, ctx, "localcluster", "-root", root, "dnslink", "add", "www.example.org", "/ipfs/"+cids["A"]); code == 0 || !strings.Contains(out, "a name under localhost") {
		t.Errorf("dnslink add www.example.org: exit %d, want a refusal naming localhost", code)
	}
	mustCLI(t, ctx, "localcluster", "-root", root, "dnslink", "remove", "site-c.localhost")
	if out := mustCLI(t, ctx, "localcluster", "-root", root, "dnslink", "list"); strings.Contains(out, "site-c") {
		t.Errorf("site-c.localhost still listed after remove")
	}
	// down stops the responder with everything else.
	mustCLI(t, ctx, "localcluster", "-root", root, "down")
	if c.DNSLinkRunning() {
		t.Error("the DNSLink responder outlives localcluster down")
	}
}

func otherSite(name string) string {
	if name == "A" {
		return "B"
	}
	return "A"
}

// addSite writes files to a directory and adds it with ipfs-cluster-ctl
// add -r through the local edge (CIDv0, the default: the redirect has to turn it into CIDv1),
// waiting until every peer holds it.
func addSite(t *testing.T, ctx context.Context, c *localcluster.Cluster, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "site")
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(ctx, bins.ClusterCtl, "--host", fmt.Sprintf("/ip4/%s/tcp/%d", c.EdgeAddress(), nodespec.RestAPIPort),
		"--force-http", "--basic-auth", c.Secrets.Username+":"+c.Secrets.Password,
		"add", "-r", "--quieter", "--replication-min", fmt.Sprint(rf), "--replication-max", fmt.Sprint(rf), dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ipfs-cluster-ctl add -r: %v\n%s", err, out)
	}
	cid := strings.TrimSpace(string(out))
	if !strings.HasPrefix(cid, "Qm") {
		t.Fatalf("ipfs-cluster-ctl add -r answered %q, want one CIDv0", out)
	}
	waitPinnedOn(t, ctx, c, cid, everyone)
	return cid
}

// viewer sends requests to the local edge as a browser would to a host
// that resolves to it.
type viewer struct{ edge, port string }

type response struct {
	*http.Response
	body string
}

var noRedirects = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DialContext: (&net.Dialer{}).DialContext, DisableKeepAlives: true},
}

func (v viewer) get(t *testing.T, ctx context.Context, host, path string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+v.edge+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host + ":" + v.port
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("GET http://%s%s: %v", req.Host, path, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res, string(b)}
}

// crawl fetches / on host and follows every relative link of every page,
// resolved as a browser resolves it, checking each file's bytes, content
// type and Cache-Control, and that every file of the site is reached.
func (v viewer) crawl(t *testing.T, ctx context.Context, host string, files map[string]string, cacheControl *regexp.Regexp) {
	t.Helper()
	base := &url.URL{Scheme: "http", Host: host + ":" + v.port, Path: "/"}
	queue := []*url.URL{base}
	reached := map[string]bool{}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if u.Host != base.Host {
			t.Fatalf("%s links off the site to %s", host, u)
		}
		file := strings.TrimPrefix(u.Path, "/")
		if file == "" || strings.HasSuffix(file, "/") {
			file += "index.html"
		}
		if reached[file] {
			continue
		}
		reached[file] = true
		want, ok := files[file]
		if !ok {
			t.Fatalf("%s: a link leads to %s, which the site does not have", host, u)
		}
		res := v.get(t, ctx, host, u.Path)
		if res.StatusCode != http.StatusOK || res.body != want {
			t.Fatalf("GET %s: %d %.200q, want 200 with the file's bytes", u, res.StatusCode, res.body)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, contentTypes[filepath.Ext(file)]) {
			t.Errorf("GET %s: Content-Type %q, want %s", u, ct, contentTypes[filepath.Ext(file)])
		}
		if cc := res.Header.Get("Cache-Control"); !cacheControl.MatchString(cc) {
			t.Errorf("GET %s: Cache-Control %q, want %s", u, cc, cacheControl)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: the edge's security headers are missing: %v", u, res.Header)
		}
		if filepath.Ext(file) == ".html" {
			for _, m := range linkAttr.FindAllStringSubmatch(res.body, -1) {
				ref, err := url.Parse(m[1])
				if err != nil {
					t.Fatal(err)
				}
				if ref.IsAbs() {
					continue // the SVG namespace
				}
				queue = append(queue, u.ResolveReference(ref))
			}
		}
	}
	for file := range files {
		if !reached[file] && file != "404.html" && file != "_redirects" {
			t.Errorf("%s: %s is never linked to, the crawl missed it", host, file)
		}
	}
}

// notFound checks that a missing page answers 404 with the site's own
// 404.html.
func (v viewer) notFound(t *testing.T, ctx context.Context, host, path, page string) {
	t.Helper()
	res := v.get(t, ctx, host, path)
	if res.StatusCode != http.StatusNotFound || res.body != page || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET %s%s: %d %q %.200q, want 404 with the site's 404.html", host, path, res.StatusCode, res.Header.Get("Content-Type"), res.body)
	}
}

// The init script's gateway configuration, against a real kubo repo: the
// subdomain gateway, website and path gateway entries kubo reads, the
// resolvers, and a second start with the same environment writing nothing.
func TestKuboInitWritesTheGatewayHosts(t *testing.T) {
	ctx := scenarioCtx(t, 2*time.Minute)
	repo := t.TempDir()
	env := append(os.Environ(), "IPFS_PATH="+repo, "PATH="+filepath.Dir(bins.IPFS)+":"+os.Getenv("PATH"))
	run := func(extra ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "sh", filepath.Join(repoRoot, "docker/kubo/container-init.d/010-ipfs-cluster-aws.sh"))
		cmd.Env = append(env, extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("init script: %v\n%s", err, out)
		}
		return string(out)
	}
	initCmd := exec.CommandContext(ctx, bins.IPFS, "init", "--profile=server,flatfs")
	initCmd.Env = env
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("ipfs init: %v\n%s", err, out)
	}
	hosts := []string{
		"KUBO_BOOTSTRAP=none",
		"KUBO_PUBLIC_GATEWAY_HOSTS=path.example.org",
		"KUBO_SUBDOMAIN_GATEWAY_HOSTS=gw.example.org",
		"KUBO_DNSLINK_HOSTS=www.example.org,docs.example.net",
		"KUBO_DNS_RESOLVERS=.=,example.=https://dns.example/dns-query",
	}
	run(hosts...)
	var gateway struct {
		NoDNSLink      bool
		PublicGateways map[string]struct {
			Paths         []string
			UseSubdomains bool
			NoDNSLink     bool
			InlineDNSLink *bool
		}
	}
	readConfig(t, ctx, env, "Gateway", &gateway)
	if !gateway.NoDNSLink {
		t.Error("Gateway.NoDNSLink is false: any Host could be served by its DNSLink")
	}
	want := map[string]string{
		"path.example.org": "paths=[/ipfs /ipns] subdomains=false nodnslink=true inline=<nil>",
		"gw.example.org":   "paths=[/ipfs /ipns] subdomains=true nodnslink=true inline=true",
		"www.example.org":  "paths=[] subdomains=false nodnslink=false inline=<nil>",
		"docs.example.net": "paths=[] subdomains=false nodnslink=false inline=<nil>",
	}
	if len(gateway.PublicGateways) != len(want) {
		t.Errorf("Gateway.PublicGateways has %d hosts, want %d: %+v", len(gateway.PublicGateways), len(want), gateway.PublicGateways)
	}
	for host, w := range want {
		g, ok := gateway.PublicGateways[host]
		inline := "<nil>"
		if g.InlineDNSLink != nil {
			inline = fmt.Sprint(*g.InlineDNSLink)
		}
		got := fmt.Sprintf("paths=%v subdomains=%t nodnslink=%t inline=%s", g.Paths, g.UseSubdomains, g.NoDNSLink, inline)
		if !ok || got != w {
			t.Errorf("%s: %s, want %s", host, got, w)
		}
	}
	var resolvers map[string]string
	readConfig(t, ctx, env, "DNS.Resolvers", &resolvers)
	if fmt.Sprint(resolvers) != "map[.: example.:https://dns.example/dns-query]" {
		t.Errorf("DNS.Resolvers = %v", resolvers)
	}

	if out := run(hosts...); strings.Contains(out, " = ") {
		t.Errorf("a second start with the same environment rewrote settings:\n%s", out)
	}
	// Without the variables the entries and the resolver override go away.
	run("KUBO_BOOTSTRAP=none")
	var after struct{ PublicGateways map[string]any }
	readConfig(t, ctx, env, "Gateway", &after)
	var reset map[string]string
	readConfig(t, ctx, env, "DNS.Resolvers", &reset)
	if len(after.PublicGateways) != 0 || len(reset) != 0 {
		t.Errorf("after the variables went: PublicGateways %v, DNS.Resolvers %v", after.PublicGateways, reset)
	}
	// One role per host, and no URL kubo would refuse at start.
	for _, bad := range [][]string{
		{"KUBO_SUBDOMAIN_GATEWAY_HOSTS=a.example.org", "KUBO_DNSLINK_HOSTS=a.example.org"},
		{"KUBO_DNS_RESOLVERS=localhost.=http://10.0.0.2/dns-query"},
		{"KUBO_DNSLINK_HOSTS=a.example.org:8080"},
	} {
		cmd := exec.CommandContext(ctx, "sh", filepath.Join(repoRoot, "docker/kubo/container-init.d/010-ipfs-cluster-aws.sh"))
		cmd.Env = append(env, append([]string{"KUBO_BOOTSTRAP=none"}, bad...)...)
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "ERROR") {
			t.Errorf("%v: the script accepted it (%v)\n%s", bad, err, out)
		}
	}
}

func readConfig(t *testing.T, ctx context.Context, env []string, key string, v any) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bins.IPFS, "config", key)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ipfs config %s: %v", key, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ipfs config %s: %v\n%s", key, err, out)
	}
}
