package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

func TestShellQuote(t *testing.T) {
	assert.Equal(t, "-root", shellQuote("-root"))
	assert.Equal(t, "nodeCount=6", shellQuote("nodeCount=6"))
	assert.Equal(t, "'/tmp/my root'", shellQuote("/tmp/my root"))
	assert.Equal(t, `'it'\''s'`, shellQuote("it's"))
	assert.Equal(t, "''", shellQuote(""))
}

func TestStopHintRepeatsTheFlagsAndTheNetwork(t *testing.T) {
	t.Setenv(localcluster.NetEnv, "5")
	e := env{flags: []string{"-root", "/x y", "-c", "nodeCount=6"}}
	assert.Equal(t, "LOCALCLUSTER_NET=5 go run ./cmd/localcluster -root '/x y' -c nodeCount=6 down", e.stopHint())
	_ = os.Unsetenv(localcluster.NetEnv)
	assert.Equal(t, "go run ./cmd/localcluster down", env{}.stopHint())
}

// cli runs the localcluster command as an operator does, in the
// repository's root.
type cli struct {
	t    *testing.T
	bin  string
	repo string
	root string
	env  []string
}

func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, append([]string{"-root", c.root}, args...)...)
	cmd.Dir = c.repo
	cmd.Env = append(os.Environ(), c.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		c.t.Fatalf("running localcluster %v: %v", args, err)
	}
	c.t.Logf("localcluster %s: exit %d\n%s%s", strings.Join(args, " "), code, errb.String(), out.String())
	return out.String(), errb.String(), code
}

// buildCLI builds the command into a temporary directory; repo is the
// checkout it runs in.
func buildCLI(t *testing.T) (repo, bin string) {
	t.Helper()
	repo, err := localcluster.RepoRoot()
	require.NoError(t, err)
	bin = filepath.Join(t.TempDir(), "localcluster")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	return repo, bin
}

// up runs up and requires it to succeed.
func (c *cli) up(args ...string) (stdout, stderr string) {
	c.t.Helper()
	out, errs, code := c.run(append(args, "up")...)
	require.Equal(c.t, 0, code, "up must succeed from any state")
	return out, errs
}

// pids reads every pidfile of the root: "node1/kubo", "edge", ...
func (c *cli) pids() map[string]int {
	c.t.Helper()
	files, err := filepath.Glob(filepath.Join(c.root, "node*", "*.pid"))
	require.NoError(c.t, err)
	files = append(files, filepath.Join(c.root, "edge.pid"), filepath.Join(c.root, "regionproxy.pid"))
	out := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.Fields(string(b))[0])
		require.NoError(c.t, err)
		rel, _ := filepath.Rel(c.root, strings.TrimSuffix(f, ".pid"))
		out[rel] = pid
	}
	return out
}

// running reports whether pid is a live process (not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// crash kills a process group the way a crash would: SIGKILL, pidfile left
// behind.
func crash(t *testing.T, pid int) {
	t.Helper()
	require.NoError(t, syscall.Kill(-pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !running(pid) }, 10*time.Second, 50*time.Millisecond)
}

// requireHealthy checks, through the package's API, that every peer of the
// configuration and the edge run and answer, the edge serving them all.
func (c *cli) requireHealthy(peers int, overrides map[string]string) {
	c.t.Helper()
	cl, err := localcluster.New(localcluster.Options{Root: c.root, RepoRoot: c.repo, Context: overrides})
	require.NoError(c.t, err)
	require.Len(c.t, cl.Peers, peers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, p := range cl.Peers {
		require.True(c.t, p.KuboRunning() && p.ClusterRunning(), "node%d must run", p.Index)
		ps, err := p.Client().Peers(ctx)
		require.NoError(c.t, err, "node%d", p.Index)
		require.Len(c.t, ps, peers, "node%d sees every peer", p.Index)
	}
	st := cl.Edge(ctx)
	require.NotZero(c.t, st.Pid, "the edge must run")
	require.NoError(c.t, st.Health, "the edge must answer its health checks")
	require.True(c.t, st.Current, "the edge must serve this configuration's peers")
}

// sameExcept requires every process of before but the named ones to be
// the same process after (left alone, not restarted), and the named ones
// to be new processes.
func sameExcept(t *testing.T, before, after map[string]int, restarted ...string) {
	t.Helper()
	for name, pid := range before {
		if contains(restarted, name) {
			assert.NotEqual(t, pid, after[name], "%s must have been started again", name)
		} else {
			assert.Equal(t, pid, after[name], "%s must have been left alone", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// testNet is the loopback network of this test: beside the one of
// LOCALCLUSTER_NET (which the scenario tests use, perhaps at the same
// time in `go test ./...`), never equal to it.
func testNet() string {
	n, _ := strconv.Atoi(os.Getenv(localcluster.NetEnv))
	if n < 127 {
		return strconv.Itoa(n + 128)
	}
	return strconv.Itoa(n - 127)
}

// TestUpAndDownForgive drives the CLI through every starting state an
// operator meets and requires up to end with every peer and the edge
// running and healthy (exit 0), leaving alone what already ran, and down
// to stop every process of the root whatever -c says. One root, states
// chained.
func TestUpAndDownForgive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real daemons")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	repo, bin := buildCLI(t)
	_, err := localcluster.EnsureBinaries(ctx, repo, os.Stderr)
	require.NoError(t, err)

	net := testNet()
	t.Setenv(localcluster.NetEnv, net) // for requireHealthy's peers' addresses
	c := &cli{t: t, bin: bin, repo: repo, root: t.TempDir(), env: []string{localcluster.NetEnv + "=" + net}}
	started := map[int]bool{}
	t.Cleanup(func() {
		// Whatever a failure left running: every process this test saw.
		for name, pid := range c.pids() {
			if running(pid) {
				t.Logf("cleanup: killing %s (pid %d)", name, pid)
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
		for pid := range started {
			if running(pid) {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	remember := func(pids map[string]int) map[string]int {
		for _, pid := range pids {
			started[pid] = true
		}
		return pids
	}

	t.Run("nothing running, stale pidfiles", func(t *testing.T) {
		// Pidfiles of processes that are gone (a reboot, a kill -9 of
		// everything): up must not take them for running processes.
		dead := exec.Command("true")
		require.NoError(t, dead.Run())
		stale := fmt.Sprintf("%d 1\n", dead.Process.Pid)
		require.NoError(t, os.MkdirAll(filepath.Join(c.root, "node0"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(c.root, "node0", "kubo.pid"), []byte(stale), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(c.root, "edge.pid"), []byte(stale), 0o644))

		out, errs := c.up()
		assert.Contains(t, errs, "waiting for node0 cluster peer to become healthy...", "up says what it waits for")
		assert.Contains(t, out, "stop with: "+localcluster.NetEnv+"="+net+" go run ./cmd/localcluster -root "+shellQuote(c.root)+" down")
		c.requireHealthy(3, nil)
		status, _, code := c.run("status")
		require.Equal(t, 0, code)
		assert.Regexp(t, `edge: REST API http://127\.0\.`+net+`\.10:\d+, gateway http://127\.0\.`+net+`\.10:\d+: running \(pid \d+\), healthy`, status)
		remember(c.pids())
	})

	t.Run("all up: a no-op success", func(t *testing.T) {
		before := c.pids()
		_, errs := c.up()
		assert.Contains(t, errs, "local edge already running and healthy")
		sameExcept(t, before, c.pids())
	})

	t.Run("some peers crashed", func(t *testing.T) {
		before := c.pids()
		crash(t, before["node1/cluster"])
		crash(t, before["node1/kubo"])
		c.up()
		c.requireHealthy(3, nil)
		sameExcept(t, before, remember(c.pids()), "node1/cluster", "node1/kubo")
	})

	t.Run("edge down, peers up", func(t *testing.T) {
		before := c.pids()
		crash(t, before["edge"])
		c.up()
		c.requireHealthy(3, nil)
		sameExcept(t, before, remember(c.pids()), "edge")
	})

	t.Run("edge up, every peer down", func(t *testing.T) {
		before := c.pids()
		for name, pid := range before {
			if name != "edge" {
				crash(t, pid)
			}
		}
		c.up()
		c.requireHealthy(3, nil)
		sameExcept(t, before, remember(c.pids()),
			"node0/kubo", "node0/cluster", "node0/pinning-service", "node1/kubo", "node1/cluster", "node1/pinning-service",
			"node2/kubo", "node2/cluster", "node2/pinning-service")
	})

	t.Run("more peers than -c: down stops them all", func(t *testing.T) {
		before := c.pids()
		out, _ := c.up("-c", "nodeCount=4")
		assert.Contains(t, out, "-root "+shellQuote(c.root)+" -c nodeCount=4 down", "the stop hint repeats -c")
		four := map[string]string{"nodeCount": "4"}
		c.requireHealthy(4, four)
		all := remember(c.pids())
		// The edge served three peers: replaced to serve four.
		sameExcept(t, before, all, "edge")
		require.Contains(t, all, "node3/cluster")

		// Without the -c the configuration has three peers; the fourth
		// still runs and would be counted by the others: up refuses and
		// says what to do, rather than pretend.
		_, errs, code := c.run("up")
		assert.NotEqual(t, 0, code)
		assert.Contains(t, errs, "node3 of "+c.root+" still run")

		status, _, _ := c.run("status")
		assert.Contains(t, status, "node3 runs but is beyond this configuration's 3 peers")

		_, errs, code = c.run("down") // no -c
		require.Equal(t, 0, code)
		assert.Contains(t, errs, "waiting for node3 to stop")
		for name, pid := range all {
			assert.False(t, running(pid), "%s (pid %d) must be stopped by down without -c", name, pid)
		}
		assert.Empty(t, c.pids(), "no pidfile may remain")

		_, _, code = c.run("down")
		assert.Equal(t, 0, code, "down twice is fine")
	})
}

// With a second region up runs both regions' peers and the region proxy,
// stays idempotent (a new delay replaces only the proxy), status names the
// regions, and down stops everything and removes the namespace.
func TestTwoRegionsUpAndDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real daemons")
	}
	if why := localcluster.RegionsNeedRoot(); why != "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	repo, bin := buildCLI(t)
	_, err := localcluster.EnsureBinaries(ctx, repo, os.Stderr)
	require.NoError(t, err)

	net := testNet()
	t.Setenv(localcluster.NetEnv, net)
	c := &cli{t: t, bin: bin, repo: repo, root: t.TempDir(), env: []string{localcluster.NetEnv + "=" + net}}
	t.Cleanup(func() {
		for name, pid := range c.pids() {
			if running(pid) {
				t.Logf("cleanup: killing %s (pid %d)", name, pid)
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
		_ = exec.Command("umount", filepath.Join(c.root, "region2.netns")).Run() // not mounted unless the test got that far
	})
	two := map[string]string{"secondRegion": "us-east-2", "secondRegionAvailabilityZones": "us-east-2a,us-east-2b,us-east-2c"}
	flags := []string{"-c", "secondRegion=us-east-2", "-c", "secondRegionAvailabilityZones=us-east-2a,us-east-2b,us-east-2c"}

	out, _ := c.up(flags...)
	assert.Contains(t, out, "node100 us-east-2")
	assert.Contains(t, out, "http://127.0."+net+".111:9094")
	assert.Contains(t, out, "one-way delay of 40ms")
	c.requireHealthy(6, two)
	before := c.pids()
	require.Contains(t, before, "regionproxy")
	require.Contains(t, before, "node102/cluster")

	status, _, code := c.run(append(flags, "status")...)
	require.Equal(t, 0, code)
	assert.Regexp(t, `node102 us-east-2\s+running\s+running\s+http://127\.0\.`+net+`\.113:9094\s+6 `, status)
	assert.Contains(t, status, "region proxy (the only link between the regions): running, one-way delay 40ms")

	c.up(flags...)
	sameExcept(t, before, c.pids())

	c.env = append(c.env, localcluster.RegionDelayEnv+"=10ms")
	out, _ = c.up(flags...)
	assert.Contains(t, out, "one-way delay of 10ms")
	c.requireHealthy(6, two)
	all := c.pids()
	sameExcept(t, before, all, "regionproxy")

	_, _, code = c.run(append(flags, "down")...)
	require.Equal(t, 0, code)
	for name, pid := range all {
		assert.False(t, running(pid), "%s (pid %d) must be stopped by down", name, pid)
	}
	assert.Empty(t, c.pids(), "no pidfile may remain")
	assert.NoFileExists(t, filepath.Join(c.root, "region2.netns"))
}

// TestLookingAndStoppingCreateNothing: down, status, stop-peer and
// kill-peer only look at what the root holds. On a missing root they
// create nothing (down has nothing to stop and succeeds, as a second down
// does; the others say there is no cluster), and a -c with more peers than
// the root has leaves no node directories behind.
func TestLookingAndStoppingCreateNothing(t *testing.T) {
	repo, bin := buildCLI(t)
	c := &cli{t: t, bin: bin, repo: repo, root: filepath.Join(t.TempDir(), "nothing"), env: []string{localcluster.NetEnv + "=" + testNet()}}

	out, _, code := c.run("down")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "no local cluster in "+c.root+": nothing to stop")
	for _, command := range [][]string{{"status"}, {"stop-peer", "0"}, {"kill-peer", "0"}} {
		_, errs, code := c.run(command...)
		assert.Equal(t, 1, code, command)
		assert.Contains(t, errs, "no local cluster in "+c.root, command)
	}
	assert.NoDirExists(t, c.root)

	// A three-peer root as up leaves it, nothing running.
	_, err := localcluster.New(localcluster.Options{Root: c.root, RepoRoot: repo})
	require.NoError(t, err)
	files := func() []string {
		var all []string
		require.NoError(t, filepath.WalkDir(c.root, func(path string, _ os.DirEntry, err error) error {
			all = append(all, path)
			return err
		}))
		return all
	}
	before := files()
	require.Contains(t, before, filepath.Join(c.root, "node2", "ipfs"))
	secrets, err := os.ReadFile(filepath.Join(c.root, "secrets.env"))
	require.NoError(t, err)

	out, _, code = c.run("-c", "nodeCount=5", "status")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `node4\s+stopped\s+stopped`, out)
	out, _, code = c.run("-c", "nodeCount=5", "stop-peer", "1")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "node1 stopped")
	out, _, code = c.run("-c", "nodeCount=5", "down")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "stopped; data and secrets kept in "+c.root)
	assert.Equal(t, before, files(), "no node3 or node4, nothing else either")
	after, err := os.ReadFile(filepath.Join(c.root, "secrets.env"))
	require.NoError(t, err)
	assert.Equal(t, string(secrets), string(after))
}
