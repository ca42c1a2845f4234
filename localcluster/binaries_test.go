package localcluster

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

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
