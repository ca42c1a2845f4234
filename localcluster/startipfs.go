package localcluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The emulation of the kubo image's start script, upstream's start_ipfs
// (kubo's bin/container_daemon): it prepares the repository, then the
// image's CMD runs the daemon.

const kuboEntrypointDir = "docker/kubo/container-init.d"

// upstreamKuboCmd is the CMD of the upstream kubo image (its Dockerfile),
// used unless docker/kubo/Dockerfile sets its own.
var upstreamKuboCmd = []string{"daemon", "--migrate=true", "--agent-version-suffix=docker"}

// kuboInit prepares the repo at ipfsPath as the kubo image does on every
// start: `ipfs init --profile=$IPFS_PROFILE` and the API/Gateway 0.0.0.0
// settings only on a new repo, then every docker/kubo/container-init.d/*.sh
// in sorted order (executable ones run, others sourced). Output goes to log.
// Every step runs as a process of its own, through wrap if not nil (as the
// container's processes: see Options.wrap).
func kuboInit(ctx context.Context, repoRoot, ipfs, ipfsPath string, env []string, log io.Writer, wrap func(*exec.Cmd)) error {
	env = mergeEnv(env, []string{"IPFS_PATH=" + ipfsPath})
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = env
		cmd.Dir = ipfsPath
		cmd.Stdout, cmd.Stderr = log, log
		if wrap != nil {
			wrap(cmd)
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
		}
		return nil
	}
	if err := run(ipfs, "version"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(ipfsPath, "config")); err == nil {
		_, _ = fmt.Fprintf(log, "Found IPFS fs-repo at %s\n", ipfsPath)
	} else {
		args := []string{"init"}
		if prof := lookupEnv(env, "IPFS_PROFILE"); prof != "" {
			args = append(args, "--profile="+prof)
		}
		if err := run(ipfs, args...); err != nil {
			return err
		}
		if err := run(ipfs, "config", "Addresses.API", "/ip4/0.0.0.0/tcp/5001"); err != nil {
			return err
		}
		if err := run(ipfs, "config", "Addresses.Gateway", "/ip4/0.0.0.0/tcp/8080"); err != nil {
			return err
		}
		// Upstream's swarm key steps, word for word.
		if lookupEnv(env, "IPFS_SWARM_KEY") != "" || lookupEnv(env, "IPFS_SWARM_KEY_FILE") != "" {
			if err := run("/bin/sh", "-c", swarmKeyScript); err != nil {
				return err
			}
		}
	}
	scripts, err := initScripts(repoRoot)
	if err != nil {
		return err
	}
	for _, s := range scripts {
		st, err := os.Stat(s)
		if err != nil {
			return err
		}
		if st.Mode()&0o111 != 0 {
			_, _ = fmt.Fprintf(log, "Executing '%s'...\n", s)
			err = run(s)
		} else {
			_, _ = fmt.Fprintf(log, "Sourcing '%s'...\n", s)
			err = run("/bin/sh", "-c", `set -e; . "$0"`, s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

const swarmKeyScript = `set -e
SWARM_KEY_FILE="$IPFS_PATH/swarm.key"
SWARM_KEY_PERM=0400
if [ -n "$IPFS_SWARM_KEY" ] ; then
  echo "Copying swarm key from variable..."
  printf "%s\n" "$IPFS_SWARM_KEY" >"$SWARM_KEY_FILE" || exit 1
  chmod $SWARM_KEY_PERM "$SWARM_KEY_FILE"
fi
if [ -n "$IPFS_SWARM_KEY_FILE" ] ; then
  echo "Copying swarm key from file..."
  install -m $SWARM_KEY_PERM "$IPFS_SWARM_KEY_FILE" "$SWARM_KEY_FILE" || exit 1
fi`

var shRE = regexp.MustCompile(`(?i)\.sh$`)

// initScripts lists docker/kubo/container-init.d/*.sh (regular files and
// symlinks, case-insensitive suffix) in the byte order `sort -z` gives.
func initScripts(repoRoot string) ([]string, error) {
	dir := filepath.Join(repoRoot, kuboEntrypointDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !shRE.MatchString(e.Name()) || !e.Type().IsRegular() && e.Type()&os.ModeSymlink == 0 {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}
