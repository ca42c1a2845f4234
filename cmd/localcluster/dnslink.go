package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

const dnslinkUsage = `usage: localcluster [-root DIR] dnslink COMMAND
  add HOST PATH  publish (or replace) _dnslink.HOST = dnslink=PATH, e.g. site.localhost /ipfs/<cid>;
                 starts the root's DNSLink responder if it is not running
  remove HOST    withdraw HOST's record
  list           print the records and where the responder answers
  serve          run the responder in the foreground (what add starts in the background)
`

// dnslinkCommand manages the local stand-in for the public DNS records of
// DNSLink websites (localcluster.SetDNSLink and friends): the records the
// local peers resolve for names under localhost.
func dnslinkCommand(ctx context.Context, root string, args []string, open func() (*localcluster.Cluster, error)) error {
	if len(args) == 0 {
		return fmt.Errorf("dnslink needs a command\n%s", dnslinkUsage)
	}
	if !localcluster.Existing(root) {
		return fmt.Errorf("no local cluster in %s (start one with `go run ./cmd/localcluster up`)", root)
	}
	c, err := open()
	if err != nil {
		return err
	}
	want := map[string]int{"add": 2, "remove": 1, "list": 0, "serve": 0}
	n, known := want[args[0]]
	if !known || len(args)-1 != n {
		return fmt.Errorf("dnslink %q: wrong command or arguments\n%s", args, dnslinkUsage)
	}
	switch args[0] {
	case "add":
		if err := c.SetDNSLink(args[1], args[2]); err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		serve := exec.Command(self, "-root", c.Root, "dnslink", "serve")
		if err := c.StartDNSLink(ctx, serve); err != nil {
			return err
		}
		fmt.Printf("_dnslink.%s: dnslink=%s (answered on %s, TTL %s: the peers see a change within that)\n", args[1], args[2], localcluster.DNSLinkURL(), localcluster.DNSLinkTTL)
	case "remove":
		if err := c.RemoveDNSLink(args[1]); err != nil {
			return err
		}
		fmt.Printf("_dnslink.%s removed\n", args[1])
	case "list":
		records, err := c.DNSLinks()
		if err != nil {
			return err
		}
		state := "not running (`dnslink add` starts it)"
		if c.DNSLinkRunning() {
			state = "answering on " + localcluster.DNSLinkURL()
		}
		fmt.Printf("DNSLink responder %s\n", state)
		for _, h := range slices.Sorted(maps.Keys(records)) {
			fmt.Printf("_dnslink.%s\tdnslink=%s\n", h, records[h])
		}
	case "serve":
		return c.ServeDNSLink(ctx)
	}
	return nil
}
