package nodespec

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The images' scripts keep defaults of their own (for plain `docker run`);
// they must be the values the task definition sets, so that the two can
// never disagree. These tests read the committed files.

const repoRoot = "../../.."

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// defaultOf finds `${NAME:-default}` or `${NAME-default}` in a script.
func defaultOf(t *testing.T, script, name string) string {
	t.Helper()
	m := regexp.MustCompile(`\$\{` + name + `:?-([^}]*)\}`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no default for %s", name)
	}
	return m[1]
}

func TestKuboInitScriptDefaultsAreTheTaskEnvironment(t *testing.T) {
	script := read(t, "docker/kubo/container-init.d/010-ipfs-cluster-aws.sh")
	kubo, _ := Settings{PeerCount: 3, Namespace: "x.internal"}.Environment()
	for _, env := range []string{"KUBO_API_ADDRESS", "KUBO_GATEWAY_ADDRESS", "KUBO_SWARM_ADDRESSES", "KUBO_STORAGE_MAX", "KUBO_GATEWAY_NOFETCH"} {
		if got := defaultOf(t, script, env); got != kubo[env] {
			t.Errorf("init script default %s=%q, task definition sets %q", env, got, kubo[env])
		}
	}
	if !strings.Contains(script, "EMPTY_DIR_CID="+EmptyDirectoryCID) {
		t.Errorf("init script does not pin %s, the load balancer's health path", EmptyDirectoryCID)
	}
}

func TestClusterEntrypointDefaultsAreTheTaskEnvironment(t *testing.T) {
	script := read(t, "docker/ipfs-cluster/cluster-entrypoint.sh")
	_, cluster := Settings{PeerCount: 3, Namespace: "x.internal"}.Environment()
	// The entrypoint derives its defaults from the bind address: in a task
	// that is the wildcard, and the local-only APIs go to loopback.
	expand := strings.NewReplacer("$ipproto", "ip4", "$bind", anyAddress, "$local_addr", "/ip4/"+loopbackAddress, "$CLUSTER_IPFSHTTP_NODEMULTIADDRESS", cluster["CLUSTER_IPFSHTTP_NODEMULTIADDRESS"])
	for _, name := range []string{
		"CLUSTER_LISTENMULTIADDRESS", "CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS", "CLUSTER_IPFSHTTP_NODEMULTIADDRESS",
		"CLUSTER_IPFSPROXY_LISTENMULTIADDRESS", "CLUSTER_IPFSPROXY_NODEMULTIADDRESS", "CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS",
	} {
		if got := expand.Replace(defaultOf(t, script, name)); got != cluster[name] {
			t.Errorf("entrypoint default %s=%q, task definition sets %q", name, got, cluster[name])
		}
	}
	for _, v := range []string{IdentitySeedVariable, RestAPIUsernameVariable, RestAPIPasswordVariable} {
		if !strings.Contains(script, v) {
			t.Errorf("entrypoint does not read %s", v)
		}
	}
}

// TestImageLockWaitsAreTheTaskEnvironment: the Dockerfiles' lock waits (for
// plain docker) equal the ones the task definition sets, which the health
// check start periods are derived from.
func TestImageLockWaitsAreTheTaskEnvironment(t *testing.T) {
	kubo, cluster := Settings{PeerCount: 3, Namespace: "x.internal"}.Environment()
	for file, want := range map[string]struct{ name, value string }{
		"docker/kubo/Dockerfile":         {"IPFS_WAIT_REPO_LOCK", kubo["IPFS_WAIT_REPO_LOCK"]},
		"docker/ipfs-cluster/Dockerfile": {"IPFS_CLUSTER_WAIT_LOCK", cluster["IPFS_CLUSTER_WAIT_LOCK"]},
	} {
		m := regexp.MustCompile(want.name + `=(\S+)`).FindStringSubmatch(read(t, file))
		if m == nil {
			t.Errorf("%s sets no %s", file, want.name)
			continue
		}
		got, err := time.ParseDuration(m[1])
		wantDuration, _ := time.ParseDuration(want.value)
		if err != nil || got != wantDuration {
			t.Errorf("%s: %s=%s, the task definition sets %s", file, want.name, m[1], want.value)
		}
	}
}

// TestClusterImageHealthCheckOutlastsItsLockWait: plain Docker uses the
// image's HEALTHCHECK; its start period must cover the lock wait like the
// task definition's does.
func TestClusterImageHealthCheckOutlastsItsLockWait(t *testing.T) {
	m := regexp.MustCompile(`HEALTHCHECK .*--start-period=(\S+)`).FindStringSubmatch(read(t, "docker/ipfs-cluster/Dockerfile"))
	if m == nil {
		t.Fatal("docker/ipfs-cluster/Dockerfile has no HEALTHCHECK start period")
	}
	if got, err := time.ParseDuration(m[1]); err != nil || got != ClusterStartPeriod {
		t.Errorf("HEALTHCHECK start period %s, the task definition's is %s", m[1], ClusterStartPeriod)
	}
}

// The maintenance task runs RestoreCommand from the kubo image with
// RestoreOwnerVariable: the image must carry the script there, and the
// script must read that variable and swap exactly the access points'
// directories.
func TestKuboImageCarriesTheRestoreScript(t *testing.T) {
	dockerfile := read(t, "docker/kubo/Dockerfile")
	if !regexp.MustCompile(`(?m)^COPY --chmod=0755 maintenance/restore-from-backup\.sh ` + regexp.QuoteMeta(RestoreCommand) + `$`).MatchString(dockerfile) {
		t.Errorf("docker/kubo/Dockerfile does not COPY the restore script to %s", RestoreCommand)
	}
	if !strings.Contains(read(t, "docker/kubo/.dockerignore"), "!maintenance/restore-from-backup.sh") {
		t.Error("docker/kubo/.dockerignore keeps the restore script out of the build context")
	}
	script := read(t, "docker/kubo/maintenance/restore-from-backup.sh")
	if !strings.Contains(script, "${"+RestoreOwnerVariable+":?") {
		t.Errorf("the restore script does not require %s", RestoreOwnerVariable)
	}
	dirs := strings.TrimPrefix(KuboRepoDirectory, "/") + " " + strings.TrimPrefix(ClusterStateDirectory, "/")
	if strings.Count(script, "for d in "+dirs+"; do") != 2 {
		t.Errorf("the restore script does not check and swap exactly %q", dirs)
	}
}

// TestPinningServiceReadsTheVariablesTheTaskSets: the layer's own names for
// its inputs and its health path are the ones the task definition uses.
func TestPinningServiceReadsTheVariablesTheTaskSets(t *testing.T) {
	main := read(t, "docker/ipfs-cluster/cmd/pinning-service/main.go")
	for _, name := range []string{PinningServiceListenVariable, PinningServiceBasePathVariable, PinningServiceClusterURLVariable, RestAPIUsernameVariable, RestAPIPasswordVariable} {
		if !regexp.MustCompile(`env[A-Za-z]+\s*=\s*"` + name + `"`).MatchString(main) {
			t.Errorf("cmd/pinning-service does not read %s", name)
		}
	}
	env := PinningServiceEnvironment()
	for _, name := range []string{PinningServiceListenVariable, PinningServiceBasePathVariable, PinningServiceClusterURLVariable} {
		if env[name] == "" {
			t.Errorf("the task does not set %s", name)
		}
	}
	server := read(t, "docker/ipfs-cluster/psa/server.go")
	m := regexp.MustCompile(`HealthPath = "([^"]+)"`).FindStringSubmatch(server)
	if m == nil || PinningServicePath+m[1] != PinningServiceHealthPath {
		t.Errorf("psa.HealthPath %v under %s is not PinningServiceHealthPath %s", m, PinningServicePath, PinningServiceHealthPath)
	}
	if !strings.Contains(read(t, "docker/ipfs-cluster/Dockerfile"), PinningServiceCommand[0]) {
		t.Errorf("the cluster image does not install %s", PinningServiceCommand[0])
	}
}
