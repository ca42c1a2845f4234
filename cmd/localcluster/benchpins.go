package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

const benchPinsUsage = `usage: localcluster [global flags] bench pins [-n N] [-clients C] [-kill]

N pins by CID of blocks every kubo already holds, through the local edge and
straight to node0, for the shipped configuration and upstream's defaults,
each on fresh temporary clusters; -kill kills node0 mid-ingest instead and
counts acknowledged pins lost. -cluster-env applies to the shipped profile.
`

// benchPins is `bench pins`.
func benchPins(ctx context.Context, base localcluster.Options, args []string) error {
	fs := flag.NewFlagSet("bench pins", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, benchPinsUsage); fs.PrintDefaults() }
	n := fs.Int("n", 10000, "number of pins (distinct random blocks)")
	clients := fs.Int("clients", 16, "concurrent clients")
	kill := fs.Bool("kill", false, "kill mode: SIGKILL node0 after half the pins were acknowledged, count acknowledged pins lost")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench pins: unexpected %q", fs.Args())
	}
	tmp, err := os.MkdirTemp("", "localcluster-bench-pins-")
	if err != nil {
		return err
	}
	_, err = localcluster.RunPinBench(ctx, localcluster.PinsOptions{Base: base, Dir: tmp, N: *n, Clients: *clients, Kill: *kill}, os.Stdout)
	if err != nil {
		return fmt.Errorf("%w (files kept in %s)", err, filepath.Clean(tmp))
	}
	return os.RemoveAll(tmp)
}
