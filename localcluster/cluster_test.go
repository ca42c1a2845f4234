package localcluster

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A read-only cluster creates nothing, not even on a missing root, and
// starts no peer in the directories it did not create.
func TestReadOnlyCreatesAndStartsNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "missing")
	c, err := New(Options{Root: root, ReadOnly: true, Bin: &Binaries{}})
	require.NoError(t, err)
	assert.NotEmpty(t, c.Peers)
	assert.Zero(t, c.Secrets, "no secrets.env: none generated")
	assert.ErrorContains(t, c.Start(context.Background()), "ReadOnly")
	assert.ErrorContains(t, c.StartPeer(context.Background(), 0), "ReadOnly")
	assert.NoError(t, c.Stop(), "stopping what does not run is fine")
	assert.NoDirExists(t, root)
}
