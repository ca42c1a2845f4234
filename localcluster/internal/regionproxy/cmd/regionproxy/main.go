// Command regionproxy runs the links of a local cluster's two regions (see
// package regionproxy) from the JSON config file named by its argument,
// until SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/regionproxy"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: regionproxy CONFIG.json")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "regionproxy:", err)
		os.Exit(1)
	}
	var cfg regionproxy.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "regionproxy:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Fprintf(os.Stderr, "regionproxy: %d links\n", len(cfg.Links))
	if err := regionproxy.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "regionproxy:", err)
		os.Exit(1)
	}
}
