package localcluster

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// testBinaries returns the checkout and the cached binaries (built when
// missing) for a test that runs them.
func testBinaries(t *testing.T, ctx context.Context) (repoRoot string, bins *Binaries) {
	t.Helper()
	repoRoot, err := RepoRoot()
	require.NoError(t, err)
	bins, err = EnsureBinaries(ctx, repoRoot, io.Discard)
	require.NoError(t, err)
	return repoRoot, bins
}
