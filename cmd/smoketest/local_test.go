package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// -local never reaches AWS, and with nothing running it fails at once,
// naming what is down, instead of waiting on an edge that is not there.
// (test/scenarios runs it against a real local cluster.)
func TestLocalModeMakesNoAWSCallAndNamesWhatIsDown(t *testing.T) {
	_, f := healthy(t)
	root := filepath.Join(t.TempDir(), "cluster")
	o := runWith(t, f, nil, "-local", "-root", root)
	if o.code != 1 || !strings.HasPrefix(o.line("local-cluster"), "FAIL") || !strings.Contains(o.line("local-cluster"), "no local cluster in "+root) {
		t.Errorf("no cluster: exit %d, line %q; want 1 and local-cluster FAIL naming the root", o.code, o.line("local-cluster"))
	}

	// A root whose processes are all stopped.
	c, err := localcluster.New(localcluster.Options{Root: root, Peers: 4})
	if err != nil {
		t.Fatal(err)
	}
	o = runWith(t, f, nil, "-local", "-root", root, "-peers", "4", "-c", "replicationFactorMin=3")
	if o.code != 1 || !strings.Contains(o.stderr, "smoketest: FAILED") {
		t.Fatalf("exit %d, stderr %q: want 1 and FAILED", o.code, o.stderr)
	}
	gateway, api := c.EdgeURLs()
	if l := o.line("local-cluster"); !strings.HasPrefix(l, "ok") || !strings.Contains(l, "4 peers") || !strings.Contains(l, gateway) || !strings.Contains(l, api) || !strings.Contains(l, c.SecretFile) {
		t.Errorf("local-cluster line %q: want ok with 4 peers, %s, %s and %s", l, gateway, api, c.SecretFile)
	}
	if l := o.line("local-processes"); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "node3 cluster peer") || !strings.Contains(l, "the local edge") {
		t.Errorf("local-processes line %q: want FAIL naming node3 and the edge", l)
	}
	if l := o.line("http-checks"); !strings.HasPrefix(l, "skipped") {
		t.Errorf("http-checks line %q: want skipped (no edge)", l)
	}
	if strings.Contains(o.stdout, c.Secrets.Password) {
		t.Error("the output carries the password")
	}
	if len(f.Calls()) != 0 {
		t.Errorf("-local reached AWS: %q", f.Calls())
	}

	for _, args := range [][]string{{"-local", "-stack", "X"}, {"-local", "-region", "eu-west-1"}, {"-local", "-role-arn", "arn:aws:iam::123456789012:role/x"}} {
		if o := runWith(t, f, nil, args...); o.code != 2 || !strings.Contains(o.stderr, "does not apply with -local") {
			t.Errorf("%q: exit %d, stderr %q; want 2", args, o.code, o.stderr)
		}
	}
}
