package localcluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBinaryVersionsMatchDockerfiles is the guard of "one source of truth":
// the nested modules that build the local binaries must require exactly the
// releases the images are built FROM.
func TestBinaryVersionsMatchDockerfiles(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	v, err := checkVersions(root)
	require.NoError(t, err)
	assert.Regexp(t, `^v\d+\.\d+\.\d+$`, v.Kubo)
	assert.Regexp(t, `^v\d+\.\d+\.\d+$`, v.Cluster)
	for _, mod := range []string{kuboBinModule, clusterBinModule} {
		_, err := os.Stat(filepath.Join(root, mod, "go.sum"))
		assert.NoError(t, err, "%s must commit its go.sum", mod)
	}
}

// The upgrade rehearsal starts from a release older than the pinned one.
func TestPreviousKuboIsOlderThanThePinnedRelease(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, kuboPreviousModule, "go.sum"))
	require.NoError(t, err, "%s must commit its go.sum", kuboPreviousModule)
	prev, err := PreviousKuboVersion(root)
	require.NoError(t, err)
	assert.Regexp(t, `^v\d+\.\d+\.\d+$`, prev)

	for _, previous := range []string{"v0.43.0", "v0.43.1", "v1.0.0"} {
		tree := writeTree(t, map[string]string{
			kuboDockerfile:                 "FROM ipfs/kubo:v0.43.0\n",
			clusterDockerfile:              "FROM ipfs/ipfs-cluster:v1.1.6\n",
			kuboPreviousModule + "/go.mod": "module z\n\nrequire github.com/ipfs/kubo " + previous + "\n",
		})
		_, err := PreviousKuboVersion(tree)
		require.Error(t, err, previous)
		assert.Contains(t, err.Error(), "is not older than docker/kubo/Dockerfile's FROM v0.43.0")
	}
	assert.True(t, semverLess("v0.9.9", "v0.10.0"))
	assert.False(t, semverLess("v0.10.0", "v0.9.9"))
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func TestCheckVersionsReportsEveryMismatch(t *testing.T) {
	root := writeTree(t, map[string]string{
		kuboDockerfile:               "# syntax=docker/dockerfile:1\nFROM ipfs/kubo:v0.43.0\n",
		clusterDockerfile:            "FROM golang:1.26 AS build\nRUN true\nFROM docker.io/ipfs/ipfs-cluster:v1.1.6@sha256:abc\n",
		kuboBinModule + "/go.mod":    "module x\n\ngo 1.26\n\nrequire github.com/ipfs/kubo v0.42.0\n",
		clusterBinModule + "/go.mod": "module y\n\ngo 1.26\n\nrequire (\n\tgithub.com/ipfs-cluster/ipfs-cluster v1.1.5\n)\n",
		kuboBinModule + "/go.sum":    "",
		clusterBinModule + "/go.sum": "",
	})
	v, err := checkVersions(root)
	assert.Equal(t, Versions{Kubo: "v0.43.0", Cluster: "v1.1.6"}, v)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "requires github.com/ipfs/kubo v0.42.0 but docker/kubo/Dockerfile is FROM v0.43.0")
	assert.Contains(t, err.Error(), "requires github.com/ipfs-cluster/ipfs-cluster v1.1.5 but docker/ipfs-cluster/Dockerfile is FROM v1.1.6")
}

func TestCheckVersionsNeedsATaggedFrom(t *testing.T) {
	root := writeTree(t, map[string]string{
		kuboDockerfile:    "FROM ipfs/kubo\n",
		clusterDockerfile: "FROM ipfs/ipfs-cluster:v1.1.6\n",
	})
	_, err := checkVersions(root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no FROM ipfs/kubo:<tag>")
}

func TestMergeEnvLaterWins(t *testing.T) {
	assert.Equal(t, []string{"A=3", "B=2", "C=4"},
		mergeEnv([]string{"A=1", "B=2"}, []string{"A=3"}, []string{"C=4"}))
	assert.Equal(t, "3", lookupEnv([]string{"A=1", "A=3"}, "A"))
}

func TestInitScriptsSortedLikeSortZ(t *testing.T) {
	dir := writeTree(t, map[string]string{
		kuboEntrypointDir + "/20-b.sh":   "",
		kuboEntrypointDir + "/01-a.SH":   "",
		kuboEntrypointDir + "/10-c.sh":   "",
		kuboEntrypointDir + "/README.md": "",
		kuboEntrypointDir + "/sub/x.sh":  "",
	})
	got, err := initScripts(dir)
	require.NoError(t, err)
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	assert.Equal(t, []string{"01-a.SH", "10-c.sh", "20-b.sh"}, names)
}

func TestSecretsGeneratedOncePrivateAndUsable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.env")
	s1, err := loadOrCreateSecrets(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	assert.Len(t, s1.Seed, 64)
	assert.NotContains(t, s1.Password, ",")
	assert.NotContains(t, s1.Password, ":")
	s2, err := loadOrCreateSecrets(path)
	require.NoError(t, err)
	assert.Equal(t, s1, s2)
}
