package netns

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A namespace shares no address with this program's: a listener in it is
// reached from inside only, and a wrapped command runs inside.
func TestNamespaceIsolates(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	path := filepath.Join(t.TempDir(), "ns")
	require.NoError(t, Create(path))
	t.Cleanup(func() { assert.NoError(t, Remove(path)) })
	assert.True(t, Exists(path))
	require.NoError(t, Create(path), "an existing namespace is kept")

	var l net.Listener
	require.NoError(t, Do(path, func() (err error) {
		l, err = net.Listen("tcp", "127.0.251.7:0")
		return err
	}))
	defer func() { _ = l.Close() }()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	_, err := net.Dial("tcp", l.Addr().String())
	assert.Error(t, err, "reached the namespace's listener from outside")
	assert.NoError(t, Do(path, func() error {
		c, err := net.Dial("tcp", l.Addr().String())
		if err == nil {
			_ = c.Close()
		}
		return err
	}))

	cmd := exec.Command("cat", "/proc/net/tcp")
	require.NoError(t, Wrap(cmd, path))
	out, err := cmd.Output()
	require.NoError(t, err)
	// 127.0.251.7 in /proc/net/tcp's little-endian hex.
	assert.Contains(t, strings.ToUpper(string(out)), "07FB007F:", "the wrapped command sees the namespace's sockets")

	require.NoError(t, Remove(path))
	assert.False(t, Exists(path))
}
