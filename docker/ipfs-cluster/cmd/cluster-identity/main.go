// Command cluster-identity derives an ipfs-cluster peer's identity, the
// cluster secret and the peer lists from one seed (package identity).
//
// Inputs come from the environment only, never from argv (argv is readable
// by every process through /proc):
//
//	CLUSTER_IDENTITY_SEED    the seed (secret, >= 32 characters)
//	CLUSTER_PEER_INDEX       0-based index of this peer
//	CLUSTER_PEER_MULTIADDRS  comma list, in index order, of every peer's
//	                         cluster swarm multiaddr without /p2p
//	CLUSTER_PEER_INDICES     optional: each entry's peer index, where they
//	                         are not 0..n-1 (a second region's start at 100)
//
// Subcommands:
//
//	cluster-identity env [-identity-file PATH]
//	    Prints shell `export NAME='value'` lines for CLUSTER_ID,
//	    CLUSTER_SECRET, CLUSTER_PEERADDRESSES and CLUSTER_CRDT_TRUSTEDPEERS.
//	    With -identity-file, (re)writes that identity.json (mode 0600,
//	    atomically, only when its content differs) and leaves the private key
//	    out of the output; without it, CLUSTER_PRIVATEKEY is printed too.
//	    The output holds secrets: eval it, never log it.
//
//	cluster-identity peers [-n COUNT]
//	    Prints the peer ID of every peer, one per line in index order.
//	    COUNT defaults to the number of CLUSTER_PEER_MULTIADDRS entries
//	    (then with CLUSTER_PEER_INDICES, of those peers).
//	    Needs CLUSTER_IDENTITY_SEED; prints nothing secret.
//
//	cluster-identity wait-lock [-dir DIR] [-timeout DURATION]
//	    Waits until no process holds DIR/cluster.lock (the execution lock
//	    of ipfs-cluster-service), polling every second, for at most
//	    DURATION; exits 1 if it is still held. DIR defaults to
//	    $IPFS_CLUSTER_PATH, DURATION to $IPFS_CLUSTER_WAIT_LOCK (0: no
//	    wait). ipfs-cluster-service itself fails at once on a held lock;
//	    on EFS the lock of a killed task lasts until its NFS lease expires.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/docker/ipfs-cluster/identity"
)

const (
	envSeed       = "CLUSTER_IDENTITY_SEED"
	envIndex      = "CLUSTER_PEER_INDEX"
	envMultiaddrs = "CLUSTER_PEER_MULTIADDRS"
	// envIndices, optional, lists each CLUSTER_PEER_MULTIADDRS entry's
	// peer index where they are not the positions (a second region's peers
	// start at 100).
	envIndices = "CLUSTER_PEER_INDICES"
)

// peerIndices reads envIndices: nil when unset (the positions).
func peerIndices(getenv func(string) string, count int) ([]int, error) {
	list := getenv(envIndices)
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	indices, err := identity.ParseIndexList(list)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envIndices, err)
	}
	if len(indices) != count {
		return nil, fmt.Errorf("%s has %d indices for %d %s entries", envIndices, len(indices), count, envMultiaddrs)
	}
	return indices, nil
}

const usage = `usage:
  cluster-identity env [-identity-file PATH]   print export lines (secret!) for the cluster daemon
  cluster-identity peers [-n COUNT]            print every peer ID, one per line, in index order
  cluster-identity wait-lock [-dir DIR] [-timeout DURATION]
                                               wait for DIR/cluster.lock to be free
inputs (environment only): CLUSTER_IDENTITY_SEED, CLUSTER_PEER_INDEX, CLUSTER_PEER_MULTIADDRS[, CLUSTER_PEER_INDICES]
`

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "env":
		err = cmdEnv(args[1:], getenv, stdout, stderr)
	case "peers":
		err = cmdPeers(args[1:], getenv, stdout, stderr)
	case "wait-lock":
		err = cmdWaitLock(args[1:], getenv, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "cluster-identity: unknown subcommand %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "cluster-identity: %v\n", err)
		return 1
	}
	return 0
}

func cmdEnv(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	identityFile := fs.String("identity-file", "", "write identity.json here and keep the private key out of the output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("env: unexpected arguments (inputs come from the environment)")
	}

	seed := getenv(envSeed)
	if seed == "" {
		return fmt.Errorf("%s is not set", envSeed)
	}
	idxText := getenv(envIndex)
	if idxText == "" {
		return fmt.Errorf("%s is not set", envIndex)
	}
	index, err := strconv.Atoi(strings.TrimSpace(idxText))
	if err != nil {
		return fmt.Errorf("%s: %q is not an integer", envIndex, idxText)
	}
	addrs, err := identity.ParseMultiaddrList(getenv(envMultiaddrs))
	if err != nil {
		return fmt.Errorf("%s: %w", envMultiaddrs, err)
	}
	indices, err := peerIndices(getenv, len(addrs))
	if err != nil {
		return err
	}
	ci, err := identity.ForPeerOf(seed, index, addrs, indices)
	if err != nil {
		return err
	}
	key, err := ci.Self.PrivateKeyBase64()
	if err != nil {
		return err
	}

	vars := [][2]string{{"CLUSTER_ID", ci.Self.ID.String()}}
	if *identityFile != "" {
		if err := writeIdentityFile(*identityFile, ci.Self.ID.String(), key); err != nil {
			return err
		}
	} else {
		vars = append(vars, [2]string{"CLUSTER_PRIVATEKEY", key})
	}
	vars = append(vars,
		[2]string{"CLUSTER_SECRET", ci.Secret},
		// ipfs-cluster reads both through envconfig: comma-separated lists.
		[2]string{"CLUSTER_PEERADDRESSES", strings.Join(ci.PeerAddresses, ",")},
		[2]string{"CLUSTER_CRDT_TRUSTEDPEERS", strings.Join(ci.TrustedPeers, ",")},
	)
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s=%s\n", v[0], shellQuote(v[1]))
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

func cmdPeers(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 0, "number of peers (default: number of "+envMultiaddrs+" entries)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("peers: unexpected arguments")
	}
	seed := getenv(envSeed)
	if seed == "" {
		return fmt.Errorf("%s is not set", envSeed)
	}
	count := *n
	var indices []int
	if count == 0 {
		addrs, err := identity.ParseMultiaddrList(getenv(envMultiaddrs))
		if err != nil {
			return fmt.Errorf("give -n or set %s: %w", envMultiaddrs, err)
		}
		count = len(addrs)
		if indices, err = peerIndices(getenv, count); err != nil {
			return err
		}
	}
	if indices == nil {
		if count < 1 || count > identity.MaxPeers {
			return fmt.Errorf("peer count %d out of range [1,%d]", count, identity.MaxPeers)
		}
		for i := range count {
			indices = append(indices, i)
		}
	}
	ids, err := identity.PeerIDsOf(seed, indices)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(id.String())
		b.WriteByte('\n')
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

const lockFileName = "cluster.lock" // ipfs-cluster-service cmd/ipfs-cluster-service/lock.go

func cmdWaitLock(args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("wait-lock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", getenv("IPFS_CLUSTER_PATH"), "cluster config folder")
	timeoutText := fs.String("timeout", getenv("IPFS_CLUSTER_WAIT_LOCK"), "longest wait (Go duration; 0 or empty: do not wait)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("wait-lock: unexpected arguments")
	}
	if *dir == "" {
		return fmt.Errorf("wait-lock: no folder (-dir or IPFS_CLUSTER_PATH)")
	}
	var timeout time.Duration
	if *timeoutText != "" {
		var err error
		if timeout, err = time.ParseDuration(*timeoutText); err != nil {
			return fmt.Errorf("wait-lock: timeout %q: %w", *timeoutText, err)
		}
	}
	logf := func(m string) { fmt.Fprintf(stderr, "cluster-identity: %s\n", m) }
	return waitLock(context.Background(), filepath.Join(*dir, lockFileName), timeout, time.Second, logf)
}

// identityJSON mirrors ipfs-cluster v1.1.6 config/identity.go.
type identityJSON struct {
	ID         string `json:"id"`
	PrivateKey string `json:"private_key"`
}

// writeIdentityFile writes identity.json the way ipfs-cluster does (indented
// JSON, 0600), through a temporary file and a rename so that a crash never
// leaves a truncated identity. An identical file is left untouched.
func writeIdentityFile(path, id, key string) error {
	data, err := json.MarshalIndent(identityJSON{ID: id, PrivateKey: key}, "", "    ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return os.Chmod(path, 0o600)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".identity-*.json")
	if err != nil {
		return fmt.Errorf("writing identity file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing identity file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing identity file: %w", err)
	}
	return nil
}

// shellQuote single-quotes s for POSIX sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
