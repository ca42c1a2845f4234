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

func TestReadDockerfileUserVolumesAndPins(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.Join([]string{
		`FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build`,
		`USER builder`,
		`VOLUME /cache`,
		`FROM example.org/team/base:v1.2.3@sha256:0123abcd AS final`,
		`ENV SCRATCH=/tmp DATA=/data`,
		`RUN chmod 1777 "$SCRATCH"`,
		`VOLUME $SCRATCH`,
		`VOLUME ["/data/a", "${DATA}/b"]`,
		`VOLUME /x /y`,
		`USER 4317:4317`,
	}, "\n")), 0o644))
	d, err := Read(filepath.Join(dir, "Dockerfile"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"golang": "1.26.8-bookworm", "example.org/team/base": "v1.2.3"}, d.From)
	assert.Equal(t, map[string]string{"example.org/team/base": "sha256:0123abcd"}, d.FromDigest)
	assert.Equal(t, "example.org/team/base", d.FinalFrom)
	assert.Equal(t, "4317:4317", d.User, "the final stage's user, not the build stage's")
	assert.Equal(t, []string{"/tmp", "/data/a", "/data/b", "/x", "/y"}, d.Volumes, "the final stage's volumes, expanded")
	assert.Equal(t, []Instruction{
		{"ENV", "SCRATCH=/tmp DATA=/data"},
		{"RUN", `chmod 1777 "$SCRATCH"`},
		{"VOLUME", "$SCRATCH"},
		{"VOLUME", `["/data/a", "${DATA}/b"]`},
		{"VOLUME", "/x /y"},
		{"USER", "4317:4317"},
	}, d.Final)
}
