package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/docker/ipfs-cluster/identity"
)

const testSeed = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"

var testAddrs = "/ip4/127.0.0.21/tcp/9096,/ip4/127.0.0.22/tcp/9096,/ip4/127.0.0.23/tcp/9096"

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func baseEnv(index string) map[string]string {
	return map[string]string{
		envSeed:       testSeed,
		envIndex:      index,
		envMultiaddrs: testAddrs,
	}
}

func runCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, envFunc(env), &out, &errb)
	return code, out.String(), errb.String()
}

// evalExports runs the output through a real POSIX shell and returns the
// resulting values, proving the quoting.
func evalExports(t *testing.T, script string, names ...string) map[string]string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	var prog strings.Builder
	prog.WriteString(script)
	for _, n := range names {
		prog.WriteString("printf '%s\\0' \"$" + n + "\"\n")
	}
	cmd := exec.Command(sh, "-eu")
	cmd.Stdin = strings.NewReader(prog.String())
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	vals := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(vals) != len(names) {
		t.Fatalf("got %d values for %d names", len(vals), len(names))
	}
	m := map[string]string{}
	for i, n := range names {
		m[n] = vals[i]
	}
	return m
}

func TestEnvWithoutIdentityFile(t *testing.T) {
	code, out, errOut := runCmd(t, baseEnv("1"), "env")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	v := evalExports(t, out, "CLUSTER_ID", "CLUSTER_PRIVATEKEY", "CLUSTER_SECRET",
		"CLUSTER_PEERADDRESSES", "CLUSTER_CRDT_TRUSTEDPEERS")

	ids, _ := identity.PeerIDs(testSeed, 3)
	if v["CLUSTER_ID"] != ids[1].String() {
		t.Fatalf("CLUSTER_ID %s", v["CLUSTER_ID"])
	}
	raw, err := base64.StdEncoding.DecodeString(v["CLUSTER_PRIVATEKEY"])
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !ids[1].MatchesPrivateKey(priv) {
		t.Fatal("private key does not match CLUSTER_ID")
	}
	secret, _ := identity.DeriveSecret(testSeed)
	if v["CLUSTER_SECRET"] != secret {
		t.Fatal("secret mismatch")
	}
	wantAddrs := "/ip4/127.0.0.21/tcp/9096/p2p/" + ids[0].String() + ",/ip4/127.0.0.23/tcp/9096/p2p/" + ids[2].String()
	if v["CLUSTER_PEERADDRESSES"] != wantAddrs {
		t.Fatalf("CLUSTER_PEERADDRESSES %s", v["CLUSTER_PEERADDRESSES"])
	}
	wantTrusted := ids[0].String() + "," + ids[1].String() + "," + ids[2].String()
	if v["CLUSTER_CRDT_TRUSTEDPEERS"] != wantTrusted {
		t.Fatalf("CLUSTER_CRDT_TRUSTEDPEERS %s", v["CLUSTER_CRDT_TRUSTEDPEERS"])
	}
	if strings.Contains(out, testSeed) {
		t.Fatal("seed printed")
	}
}

func TestEnvWithIdentityFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity.json")
	// A random identity from a previous init must be replaced.
	if err := os.WriteFile(path, []byte(`{"id":"x","private_key":"y"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, baseEnv("2"), "env", "-identity-file", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "CLUSTER_PRIVATEKEY") {
		t.Fatal("private key printed although written to file")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("identity.json mode %v", st.Mode().Perm())
	}
	var j struct {
		ID         string `json:"id"`
		PrivateKey string `json:"private_key"`
	}
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	id, err := peer.Decode(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(j.PrivateKey)
	priv, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := identity.DerivePeer(testSeed, 2)
	if id != want.ID || !id.MatchesPrivateKey(priv) {
		t.Fatal("identity.json does not hold peer 2")
	}
	v := evalExports(t, out, "CLUSTER_ID")
	if v["CLUSTER_ID"] != j.ID {
		t.Fatal("CLUSTER_ID differs from identity.json")
	}

	// Second run: unchanged file, no temp files left behind.
	code, out2, _ := runCmd(t, baseEnv("2"), "env", "-identity-file", path)
	if code != 0 || out2 != out {
		t.Fatal("second run differs")
	}
	data2, _ := os.ReadFile(path)
	if !bytes.Equal(data, data2) {
		t.Fatal("identity.json rewritten differently")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left-over files: %v", entries)
	}
}

func TestEnvErrors(t *testing.T) {
	cases := map[string]map[string]string{
		"no seed":       {envIndex: "0", envMultiaddrs: testAddrs},
		"short seed":    {envSeed: testSeed[:31], envIndex: "0", envMultiaddrs: testAddrs},
		"no index":      {envSeed: testSeed, envMultiaddrs: testAddrs},
		"bad index":     {envSeed: testSeed, envIndex: "one", envMultiaddrs: testAddrs},
		"index too big": {envSeed: testSeed, envIndex: "3", envMultiaddrs: testAddrs},
		"no addrs":      {envSeed: testSeed, envIndex: "0"},
		"bad addr":      {envSeed: testSeed, envIndex: "0", envMultiaddrs: "/ip4/127.0.0.21/tcp/9096,/nope"},
	}
	for name, env := range cases {
		code, out, errOut := runCmd(t, env, "env")
		if code == 0 {
			t.Errorf("%s: exit 0", name)
		}
		if out != "" {
			t.Errorf("%s: printed %q", name, out)
		}
		if env[envSeed] != "" && strings.Contains(errOut, env[envSeed]) {
			t.Errorf("%s: seed in error output", name)
		}
	}
	if code, _, _ := runCmd(t, baseEnv("0"), "env", testSeed); code == 0 {
		t.Error("positional argument accepted")
	}
	if code, _, _ := runCmd(t, baseEnv("0")); code != 2 {
		t.Error("no subcommand: want exit 2")
	}
	if code, _, _ := runCmd(t, baseEnv("0"), "bogus"); code != 2 {
		t.Error("unknown subcommand: want exit 2")
	}
}

func TestPeers(t *testing.T) {
	ids, _ := identity.PeerIDs(testSeed, 5)
	code, out, errOut := runCmd(t, map[string]string{envSeed: testSeed, envMultiaddrs: testAddrs}, "peers")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := ids[0].String() + "\n" + ids[1].String() + "\n" + ids[2].String() + "\n"
	if out != want {
		t.Fatalf("got %q want %q", out, want)
	}
	code, out, _ = runCmd(t, map[string]string{envSeed: testSeed}, "peers", "-n", "5")
	if code != 0 || len(strings.Fields(out)) != 5 || strings.Fields(out)[4] != ids[4].String() {
		t.Fatalf("peers -n 5: %d %q", code, out)
	}
	if code, _, _ := runCmd(t, map[string]string{envSeed: testSeed}, "peers"); code == 0 {
		t.Fatal("peers without count accepted")
	}
	if code, _, _ := runCmd(t, map[string]string{}, "peers", "-n", "3"); code == 0 {
		t.Fatal("peers without seed accepted")
	}
}

func TestShellQuote(t *testing.T) {
	s := `a'b"c$d` + "`e`\\f g"
	v := evalExports(t, "export X="+shellQuote(s)+"\n", "X")
	if v["X"] != s {
		t.Fatalf("got %q", v["X"])
	}
}

// TestEnvWithPeerIndices: with CLUSTER_PEER_INDICES the list's entries are
// those peers (a second region's from 100 on): the identity, the trusted
// peers and the other peers' addresses follow the indices, not the
// positions; peers lists them; a mismatch or an absent index is refused.
func TestEnvWithPeerIndices(t *testing.T) {
	env := baseEnv("100")
	env[envIndices] = "0,1,100"
	code, out, errOut := runCmd(t, env, "env")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	v := evalExports(t, out, "CLUSTER_ID", "CLUSTER_PEERADDRESSES", "CLUSTER_CRDT_TRUSTEDPEERS")
	ids, _ := identity.PeerIDsOf(testSeed, []int{0, 1, 100})
	if v["CLUSTER_ID"] != ids[2].String() {
		t.Fatalf("CLUSTER_ID %s, want peer 100's %s", v["CLUSTER_ID"], ids[2])
	}
	wantAddrs := "/ip4/127.0.0.21/tcp/9096/p2p/" + ids[0].String() + ",/ip4/127.0.0.22/tcp/9096/p2p/" + ids[1].String()
	if v["CLUSTER_PEERADDRESSES"] != wantAddrs {
		t.Fatalf("CLUSTER_PEERADDRESSES %s", v["CLUSTER_PEERADDRESSES"])
	}
	if v["CLUSTER_CRDT_TRUSTEDPEERS"] != ids[0].String()+","+ids[1].String()+","+ids[2].String() {
		t.Fatalf("CLUSTER_CRDT_TRUSTEDPEERS %s", v["CLUSTER_CRDT_TRUSTEDPEERS"])
	}
	third, _ := identity.DerivePeer(testSeed, 2)
	if strings.Contains(out, third.ID.String()) {
		t.Fatal("peer 2, not in the list, is trusted")
	}

	code, out, _ = runCmd(t, env, "peers")
	if code != 0 || out != ids[0].String()+"\n"+ids[1].String()+"\n"+ids[2].String()+"\n" {
		t.Fatalf("peers: exit %d, %q", code, out)
	}

	for name, bad := range map[string]map[string]string{
		"index not listed": {envIndex: "2", envIndices: "0,1,100"},
		"count mismatch":   {envIndex: "0", envIndices: "0,100"},
		"repeated":         {envIndex: "0", envIndices: "0,0,1"},
	} {
		e := baseEnv(bad[envIndex])
		e[envIndices] = bad[envIndices]
		if code, _, errOut := runCmd(t, e, "env"); code == 0 {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %s", name, strings.TrimSpace(errOut))
		}
	}
}
