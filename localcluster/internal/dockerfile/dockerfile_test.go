package dockerfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadDockerfileFinalStage(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.Join([]string{
		`FROM golang:1.26 AS build`,
		`ENV CGO_ENABLED=0`,
		`CMD ["build"]`,
		`FROM ipfs/kubo:v0.43.0`,
		`ENV IPFS_PROFILE=server \`,
		`    # a comment inside a continuation`,
		`    IPFS_WAIT_REPO_LOCK="30s" GREETING='a b'`,
		`ENV LEGACY value with spaces`,
		`ENV DERIVED=${IPFS_PROFILE}-x`,
		`ENTRYPOINT ["/sbin/tini", "--", "/usr/local/bin/start_ipfs"]`,
		`CMD daemon --migrate`,
	}, "\n")), 0o644))
	d, err := Read(filepath.Join(dir, "Dockerfile"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"golang": "1.26", "ipfs/kubo": "v0.43.0"}, d.From)
	assert.Equal(t, []EnvVar{
		{"IPFS_PROFILE", "server"}, {"IPFS_WAIT_REPO_LOCK", "30s"}, {"GREETING", "a b"},
		{"LEGACY", "value with spaces"}, {"DERIVED", "server-x"},
	}, d.Env)
	assert.Equal(t, []string{"/sbin/tini", "--", "/usr/local/bin/start_ipfs"}, d.Entrypoint)
	assert.Equal(t, []string{"/bin/sh", "-c", "daemon --migrate"}, d.Cmd)
}
