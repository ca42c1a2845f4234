// Package regionproxy is the link between a local cluster's two regions:
// TCP proxies that listen in one region's network namespace and connect in
// the other's, holding back every byte for a one-way delay in each
// direction (this kernel has no netem to add latency to loopback). The
// namespaces see each other only through these proxies, so no peer can
// reach the other region around the delay (see localcluster's regions.go).
package regionproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster/internal/netns"
)

// Link is one proxied address: connections accepted on Listen (in the
// namespace ListenNetns, "" for this program's) go to Target (in
// TargetNetns), each direction held back by Delay.
type Link struct {
	Name        string        `json:"name"`
	Listen      string        `json:"listen"`
	ListenNetns string        `json:"listenNetns,omitempty"`
	Target      string        `json:"target"`
	TargetNetns string        `json:"targetNetns,omitempty"`
	Delay       time.Duration `json:"delay"`
}

// Config is what the regionproxy program reads (JSON).
type Config struct {
	Links []Link `json:"links"`
	// StatsFile, if set, receives the Stats of every link (JSON), rewritten
	// every StatsInterval.
	StatsFile string `json:"statsFile,omitempty"`
}

// StatsInterval is how often the stats file is rewritten.
const StatsInterval = 500 * time.Millisecond

// Stats count what went through one link.
type Stats struct {
	Connections int64 `json:"connections"`
	// Forward went from the listener's side to the target's, Back the
	// other way.
	Forward int64 `json:"forward"`
	Back    int64 `json:"back"`
}

// ReadStats reads a stats file, link name to Stats.
func ReadStats(path string) (map[string]Stats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]Stats
	return m, json.Unmarshal(b, &m)
}

type link struct {
	Link
	l                    net.Listener
	conns, forward, back atomic.Int64
}

// Run listens on every link and proxies until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	var links []*link
	defer func() {
		for _, l := range links {
			_ = l.l.Close()
		}
	}()
	for _, lc := range cfg.Links {
		l := &link{Link: lc}
		err := netns.Do(lc.ListenNetns, func() (err error) {
			l.l, err = net.Listen("tcp", lc.Listen)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: listening on %s: %w", lc.Name, lc.Listen, err)
		}
		links = append(links, l)
	}
	for _, l := range links {
		go l.serve()
	}
	if cfg.StatsFile == "" {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(StatsInterval)
	defer t.Stop()
	for {
		if err := writeStats(cfg.StatsFile, links); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return writeStats(cfg.StatsFile, links)
		case <-t.C:
		}
	}
}

func writeStats(path string, links []*link) error {
	m := map[string]Stats{}
	for _, l := range links {
		m[l.Name] = Stats{Connections: l.conns.Load(), Forward: l.forward.Load(), Back: l.back.Load()}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (l *link) serve() {
	for {
		c, err := l.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go l.handle(c)
	}
}

// handle connects to the target (a refused connection is closed at once,
// as the target's own refusal would be seen, a delay later) and pumps both
// ways.
func (l *link) handle(in net.Conn) {
	l.conns.Add(1)
	var out net.Conn
	err := netns.Do(l.TargetNetns, func() (err error) {
		out, err = net.DialTimeout("tcp", l.Target, 10*time.Second)
		return err
	})
	if err != nil {
		time.Sleep(l.Delay)
		_ = in.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pump(out, in, l.Delay, &l.forward) }()
	go func() { defer wg.Done(); pump(in, out, l.Delay, &l.back) }()
	wg.Wait()
	_ = in.Close()
	_ = out.Close()
}

type chunk struct {
	b  []byte
	at time.Time
}

// pump copies src to dst, each chunk written delay after it was read: the
// stream is delayed, not slowed (reading goes on while chunks wait). The
// end of src reaches dst (a half close) after the delay too.
func pump(dst, src net.Conn, delay time.Duration, count *atomic.Int64) {
	ch := make(chan chunk, 4096)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now().Add(delay)}
			}
			if err != nil {
				ch <- chunk{at: time.Now().Add(delay)}
				return
			}
		}
	}()
	for c := range ch {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if c.b == nil {
			break
		}
		if _, err := dst.Write(c.b); err != nil {
			// The other side is gone: stop reading this one too.
			_ = src.Close()
			for range ch {
			}
			return
		}
		count.Add(int64(len(c.b)))
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		_ = dst.Close()
	}
	for range ch { // closed right after the end
	}
}
