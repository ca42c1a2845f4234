package localcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildCachedBuildsOnceAndLandsAtomically(t *testing.T) {
	cache := t.TempDir()
	var builds atomic.Int32
	build := func(out string) error {
		builds.Add(1)
		return os.WriteFile(filepath.Join(out, "tool"), []byte("#!/bin/sh\n"), 0o755)
	}
	var wg sync.WaitGroup
	dirs := make([]string, 8)
	errs := make([]error, 8)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = buildCached(context.Background(), cache, "tool-v1", nil, build)
		}()
	}
	wg.Wait()
	for i := range dirs {
		require.NoError(t, errs[i])
		assert.Equal(t, filepath.Join(cache, "tool-v1"), dirs[i])
	}
	assert.Equal(t, int32(1), builds.Load())
	_, err := os.Stat(filepath.Join(cache, "tool-v1", "tool"))
	assert.NoError(t, err)
	left, _ := filepath.Glob(filepath.Join(cache, "tool-v1.tmp-*"))
	assert.Empty(t, left, "temporary build directories must not remain")
}

func TestBuildCachedRetriesAfterAFailedBuild(t *testing.T) {
	cache := t.TempDir()
	_, err := buildCached(context.Background(), cache, "tool-v1", nil, func(string) error { return assert.AnError })
	require.ErrorIs(t, err, assert.AnError)
	_, err = os.Stat(filepath.Join(cache, "tool-v1"))
	assert.True(t, os.IsNotExist(err), "a failed build must not be cached")
	dir, err := buildCached(context.Background(), cache, "tool-v1", nil, func(out string) error {
		return os.WriteFile(filepath.Join(out, "tool"), nil, 0o755)
	})
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "tool"))
}

// lockedBuffer is a log written by one goroutine and read by another.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestBuildCachedSaysItWaitsForAnotherBuild(t *testing.T) {
	cache := t.TempDir()
	// Another process's build: its lock, held through another open file.
	lf, err := os.OpenFile(filepath.Join(cache, "kubo-v1.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	defer func() { _ = lf.Close() }()
	require.NoError(t, syscall.Flock(int(lf.Fd()), syscall.LOCK_EX))

	var log lockedBuffer
	done := make(chan error, 1)
	go func() {
		_, err := buildCached(context.Background(), cache, "kubo-v1", &log, func(out string) error {
			return os.WriteFile(filepath.Join(out, "ipfs"), nil, 0o755)
		})
		done <- err
	}()
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "waiting for another build of kubo-v1") },
		10*time.Second, 10*time.Millisecond, "log: %q", log.String())
	select {
	case err := <-done:
		t.Fatalf("buildCached returned while another build held the lock: %v", err)
	default:
	}
	require.NoError(t, syscall.Flock(int(lf.Fd()), syscall.LOCK_UN))
	require.NoError(t, <-done)
	assert.FileExists(t, filepath.Join(cache, "kubo-v1", "ipfs"))
}

func TestBuildCachedIsSilentWithoutContention(t *testing.T) {
	var log lockedBuffer
	_, err := buildCached(context.Background(), t.TempDir(), "kubo-v1", &log, func(out string) error { return nil })
	require.NoError(t, err)
	assert.NotContains(t, log.String(), "waiting")
}
