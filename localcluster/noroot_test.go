package localcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// The task definition runs both containers as 1000:100 from the first
// instruction, on read-only root file systems with writable scratch only at
// /tmp and the EFS mounts. This test runs the images' scripts and daemons
// the same way: as uid 1000 without capabilities (setpriv, or a nested user
// namespace when the test does not run as root), in a mount namespace where
// every file system is read-only except the peer's two volumes, HOME and
// TMPDIR (scratch directories). A step that needed root or wrote anywhere
// else fails, or leaves "Read-only file system" in its log.

// sandbox runs a process the way the task definition runs a container's.
type sandbox struct {
	root      bool     // the test runs as root: setpriv drops to nodespec.UID
	rw        []string // the only writable directories
	home, tmp string
	unshare   string
	setpriv   string
}

// sandboxScript makes every mount read-only except the writable
// directories, each bind-mounted onto itself first so it is a mount of its
// own, then execs the rest of its arguments. /proc, /sys and /dev stay as a
// container has them.
const sandboxScript = `set -eu
rw=$SANDBOX_RW
unset SANDBOX_RW
ifs=$IFS
IFS=:
for d in $rw; do mount --bind "$d" "$d"; done
IFS=$ifs
while read -r _ _ _ _ mp opts _; do
	case $mp in /proc | /proc/* | /sys | /sys/* | /dev | /dev/*) continue ;; esac
	skip=
	IFS=:
	for d in $rw; do [ "$mp" = "$d" ] && skip=1; done
	IFS=$ifs
	[ -z "$skip" ] || continue
	# Keep the mount's other flags: a user namespace may not clear them.
	ro=$(printf '%s' "$opts" | sed 's/^rw/ro/; s/,rw,/,ro,/')
	mount -o "remount,bind,$ro" "$mp" || { echo "sandbox: cannot make $mp read-only" >&2; exit 1; }
done </proc/self/mountinfo
exec "$@"`

func newSandbox(t *testing.T, rw []string, home, tmp string) *sandbox {
	t.Helper()
	s := &sandbox{root: os.Geteuid() == 0, rw: rw, home: home, tmp: tmp}
	var err error
	if s.unshare, err = exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) for a read-only mount namespace")
	}
	if s.root {
		if s.setpriv, err = exec.LookPath("setpriv"); err != nil {
			t.Skip("needs setpriv (util-linux) to drop root")
		}
	}
	ns := []string{"--mount"}
	if !s.root {
		ns = append(ns, "--user", "--map-root-user")
	}
	if out, err := exec.Command(s.unshare, append(ns, "true")...).CombinedOutput(); err != nil {
		t.Skipf("this machine allows no mount namespace (%v: %s)", err, out)
	}
	probe := exec.Command("/bin/true")
	s.wrap(probe)
	out, err := probe.CombinedOutput()
	require.NoError(t, err, "setting up the sandbox: %s", out)
	return s
}

// wrap turns cmd into: a new mount namespace, everything read-only but
// s.rw, then cmd as uid 1000 / gid 100 without capabilities.
func (s *sandbox) wrap(cmd *exec.Cmd) {
	args := []string{"unshare", "--mount", "--propagation", "private"}
	if !s.root {
		args = append(args, "--user", "--map-root-user")
	}
	args = append(args, "--", "/bin/sh", "-c", sandboxScript, "sandbox")
	uid, gid := fmt.Sprint(nodespec.UID), fmt.Sprint(nodespec.GID)
	if s.root {
		args = append(args, s.setpriv, "--reuid="+uid, "--regid="+gid, "--clear-groups", "--no-new-privs", "--pdeathsig=KILL", "--")
	} else {
		// Root of the outer namespace (the caller) becomes uid 1000 of an
		// inner one, without capabilities.
		args = append(args, s.unshare, "--user", "--map-user="+uid, "--map-group="+gid, "--")
	}
	cmd.Args = append(append(args, cmd.Path), cmd.Args[1:]...)
	cmd.Path = s.unshare
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = mergeEnv(cmd.Env, []string{"HOME=" + s.home, "TMPDIR=" + s.tmp, "SANDBOX_RW=" + strings.Join(s.rw, ":")})
}

// refusedWrite finds what a step that was refused a write leaves in a log.
var refusedWrite = regexp.MustCompile(`(?i)read-only file system|permission denied|operation not permitted`)

// copyFiles copies the named files and directories from src to dst.
func copyFiles(t *testing.T, src, dst string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		err := filepath.WalkDir(filepath.Join(src, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			st, err := d.Info()
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, st.Mode().Perm())
		})
		require.NoError(t, err)
	}
}

// linkBinaries makes the binaries reachable for uid 1000 (the build cache
// may sit in a home directory it cannot enter).
func linkBinaries(t *testing.T, b *Binaries, dir string) *Binaries {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	out := *b
	for _, p := range []*string{&out.IPFS, &out.ClusterService, &out.ClusterCtl, &out.ClusterIdentity} {
		dst := filepath.Join(dir, filepath.Base(*p))
		if os.Link(*p, dst) != nil {
			copyFiles(t, filepath.Dir(*p), dir, filepath.Base(*p))
		}
		*p = dst
	}
	return &out
}

// writtenFiles lists the files below dir, relative to it.
func writtenFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	}))
	return out
}

// procStatus returns the named line of /proc/<pid>/status.
func procStatus(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

func TestImageScriptsNeedNoRootAndWriteOnlyTheirVolumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real daemons")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	repoRoot, bins := testBinaries(t, ctx)

	// Not t.TempDir: uid 1000 must be able to enter it.
	scratch, err := os.MkdirTemp("", "localcluster-noroot-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(scratch) })
	require.NoError(t, os.Chmod(scratch, 0o755))
	repo := filepath.Join(scratch, "repo")
	copyFiles(t, repoRoot, repo, "cdk.json", kuboDockerfile, kuboEntrypointDir, clusterDockerfile, clusterEntrypoint)
	bin := linkBinaries(t, bins, filepath.Join(scratch, "bin"))
	home, tmp := filepath.Join(scratch, "home"), filepath.Join(scratch, "tmp")

	c, err := New(Options{
		Root: filepath.Join(scratch, "cluster"), RepoRoot: repo, Bin: bin, Peers: 1,
		// Away from the scenario tests' peers (host 11..), which may run
		// at the same time in another test binary.
		firstHost: 31,
	})
	require.NoError(t, err)
	p := c.Peers[0]
	volumes := []string{p.IPFSPath, p.ClusterPath}
	writable := append([]string{home, tmp}, volumes...)
	for _, d := range writable {
		require.NoError(t, os.MkdirAll(d, 0o755))
		if os.Geteuid() == 0 {
			// What the EFS access points' POSIX user and creation ACL give.
			require.NoError(t, os.Chown(d, nodespec.UID, nodespec.GID))
		}
	}
	sb := newSandbox(t, writable, home, tmp)
	c.opt.wrap = sb.wrap

	t.Run("the sandbox is read-only outside the volumes and drops root", func(t *testing.T) {
		cmd := exec.Command("/bin/sh", "-c", `id -u; id -G; (echo x >"$1") 2>/dev/null && echo repo-writable; echo x >"$2" && echo tmp-writable; (echo x >/tmp/localcluster-noroot-probe) 2>/dev/null && echo root-tmp-writable; true`, "sh",
			filepath.Join(repo, "probe"), filepath.Join(tmp, "probe"))
		sb.wrap(cmd)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, fmt.Sprintf("%d\n%d\ntmp-writable\n", nodespec.UID, nodespec.GID), string(out))
		require.NoError(t, os.Remove(filepath.Join(tmp, "probe")))
	})

	// A step that writes outside the allowed places is caught: a copy of
	// the init script with one planted write to /tmp (world-writable, so
	// only the read-only mount stops it).
	t.Run("a planted write outside the volumes is caught", func(t *testing.T) {
		planted := filepath.Join(scratch, "planted")
		copyFiles(t, repo, planted, "cdk.json", kuboDockerfile, kuboEntrypointDir)
		scripts, err := initScripts(planted)
		require.NoError(t, err)
		target := fmt.Sprintf("/tmp/localcluster-planted-%d", time.Now().UnixNano())
		b, err := os.ReadFile(scripts[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(scripts[0], bytes.Replace(b, []byte("\n"), []byte("\necho planted >"+target+"\n"), 1), 0o755))
		repoDir := filepath.Join(scratch, "planted-ipfs")
		require.NoError(t, os.MkdirAll(repoDir, 0o755))
		if os.Geteuid() == 0 {
			require.NoError(t, os.Chown(repoDir, nodespec.UID, nodespec.GID))
		}
		psb := newSandbox(t, []string{repoDir, home, tmp}, home, tmp)
		kubo, _ := c.processEnv(p)
		var log bytes.Buffer
		err = kuboInit(ctx, planted, bin.IPFS, repoDir, kubo, &log, psb.wrap)
		_, statErr := os.Stat(target)
		assert.True(t, err != nil || refusedWrite.MatchString(log.String()), "the planted write went unnoticed:\n%s", log.String())
		assert.True(t, os.IsNotExist(statErr), "the planted write reached %s", target)
		_ = os.Remove(target)
	})

	// The whole peer: start_ipfs's steps and the init scripts, kubo, the
	// cluster entrypoint and the cluster daemon; an add, a read, a graceful
	// stop (the cluster writes its peerstore then).
	var started bool
	t.Cleanup(func() {
		if started {
			_ = c.Stop()
		}
	})
	started = true
	require.NoError(t, c.Start(ctx), "kubo log:\n%s\ncluster log:\n%s", logTail(p.KuboLog(), 40), logTail(p.ClusterLog(), 40))
	for _, x := range []struct {
		what string
		pid  int
	}{{"kubo", p.kubo.Pid()}, {"cluster", p.cluster.Pid()}} {
		uid := procStatus(t, x.pid, "Uid")
		if sb.root {
			assert.Equal(t, fmt.Sprintf("%d %d %d %d", nodespec.UID, nodespec.UID, nodespec.UID, nodespec.UID), uid, x.what)
		}
		assert.Equal(t, "0000000000000000", procStatus(t, x.pid, "CapEff"), "%s runs with capabilities", x.what)
		mounts, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", x.pid))
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^\S+ \S+ \S+ \S+ / ro[, ]`, string(mounts), "%s's root file system is not read-only", x.what)
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	cid, err := p.Client().Add(ctx, AddParams{ReplicationMin: -1, ReplicationMax: -1, Name: "noroot"}, AddFile{Name: "noroot.bin", Data: data})
	require.NoError(t, err)
	got, err := GatewayGet(ctx, p.GatewayURL(), cid)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	started = false
	require.NoError(t, c.Stop())

	for _, l := range []string{p.KuboLog(), p.ClusterLog()} {
		b, err := os.ReadFile(l)
		require.NoError(t, err)
		assert.False(t, refusedWrite.Match(b), "a step was refused a write or a privilege; %s:\n%s", l, logTail(l, 40))
	}
	t.Logf("uid %d gid %d, root file system read-only; writable: the two volumes, HOME and TMPDIR", nodespec.UID, nodespec.GID)
	for _, d := range writable {
		files := writtenFiles(t, d)
		top := map[string]int{}
		for _, f := range files {
			first, _, _ := strings.Cut(f, string(os.PathSeparator))
			top[first]++
		}
		t.Logf("written below %s: %d files %v", d, len(files), top)
	}
}
