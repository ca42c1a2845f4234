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
func kuboInit(ctx context.Context, repoRoot, ipfs, ipfsPath string, env []string, log io.Writer) error {
	env = mergeEnv(env, []string{"IPFS_PATH=" + ipfsPath})
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = env
		cmd.Dir = ipfsPath
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
		}
		return nil
	}
	if err := run(ipfs, "version"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(ipfsPath, "config")); err == nil {
		fmt.Fprintf(log, "Found IPFS fs-repo at %s\n", ipfsPath)
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
		keyFile := filepath.Join(ipfsPath, "swarm.key")
		if k := lookupEnv(env, "IPFS_SWARM_KEY"); k != "" {
			if err := os.WriteFile(keyFile, []byte(k+"\n"), 0o400); err != nil {
				return err
			}
		}
		if kf := lookupEnv(env, "IPFS_SWARM_KEY_FILE"); kf != "" {
			b, err := os.ReadFile(kf)
			if err != nil {
				return err
			}
			os.Remove(keyFile)
			if err := os.WriteFile(keyFile, b, 0o400); err != nil {
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
			fmt.Fprintf(log, "Executing '%s'...\n", s)
			err = run(s)
		} else {
			fmt.Fprintf(log, "Sourcing '%s'...\n", s)
			err = run("/bin/sh", "-c", `set -e; . "$0"`, s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

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
		if !shRE.MatchString(e.Name()) || !(e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0) {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}
