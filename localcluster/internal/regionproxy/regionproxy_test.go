package regionproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An echo server behind a link with a one-way delay d answers a line no
// sooner than 2d (and not much later); the bytes are counted both ways.
func TestDelayEachWay(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = echo.Close() }()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	listen := free.Addr().String()
	_ = free.Close()

	const delay = 40 * time.Millisecond
	stats := filepath.Join(t.TempDir(), "stats.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{StatsFile: stats, Links: []Link{{Name: "echo", Listen: listen, Target: echo.Addr().String(), Delay: delay}}})
	}()
	var c net.Conn
	require.Eventually(t, func() bool { c, err = net.Dial("tcp", listen); return err == nil }, 5*time.Second, 10*time.Millisecond)
	r := bufio.NewReader(c)
	for range 3 {
		start := time.Now()
		_, err = c.Write([]byte("ping\n"))
		require.NoError(t, err)
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "ping\n", line)
		rtt := time.Since(start)
		assert.GreaterOrEqual(t, rtt, 2*delay)
		assert.Less(t, rtt, 2*delay+100*time.Millisecond)
	}
	// A half close arrives, delayed, and the echo side's close comes back.
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	_, err = r.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
	_ = c.Close()
	cancel()
	require.NoError(t, <-done)
	s, err := ReadStats(stats)
	require.NoError(t, err)
	assert.Equal(t, Stats{Connections: 1, Forward: 15, Back: 15}, s["echo"])
}

// A stream keeps its throughput: the delay is added once, not per chunk.
func TestDelayDoesNotSlowAStream(t *testing.T) {
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = sink.Close() }()
	got := make(chan int64, 1)
	go func() {
		c, err := sink.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		_ = c.Close()
		got <- n
	}()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	listen := free.Addr().String()
	_ = free.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = Run(ctx, Config{Links: []Link{{Name: "sink", Listen: listen, Target: sink.Addr().String(), Delay: 40 * time.Millisecond}}})
	}()
	var c net.Conn
	require.Eventually(t, func() bool { c, err = net.Dial("tcp", listen); return err == nil }, 5*time.Second, 10*time.Millisecond)
	start := time.Now()
	buf := make([]byte, 64<<10)
	for range 512 { // 32 MiB
		_, err := c.Write(buf)
		require.NoError(t, err)
	}
	_ = c.Close()
	assert.Equal(t, int64(32<<20), <-got)
	assert.Less(t, time.Since(start), 3*time.Second)
}
