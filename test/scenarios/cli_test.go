package scenarios

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The commands as an operator runs them (`go run ./cmd/...`), built once.
var (
	commandsOnce sync.Once
	commandsDir  string
	commandsErr  error
)

// command returns the path of cmd/<name>, built for this test run.
func command(t *testing.T, name string) string {
	t.Helper()
	commandsOnce.Do(func() {
		commandsDir = filepath.Join(dataRoot, "bin")
		cmd := exec.Command("go", "build", "-o", commandsDir+"/", "./cmd/localcluster", "./cmd/smoketest")
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		if err != nil {
			commandsErr = &buildError{err, string(out)}
		}
	})
	if commandsErr != nil {
		t.Fatal(commandsErr)
	}
	return filepath.Join(commandsDir, name)
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build ./cmd/...: " + e.err.Error() + "\n" + e.out }

// cli runs a command from the repository root (where `go run` runs it),
// with this process's environment (LOCALCLUSTER_NET included), and returns
// its exit code and output.
func cli(t *testing.T, ctx context.Context, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, command(t, name), args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	t.Logf("$ %s %s\n(exit %d)\n%s", name, strings.Join(args, " "), code, out)
	return code, string(out)
}

// mustCLI is cli for a command that must succeed.
func mustCLI(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	code, out := cli(t, ctx, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d", name, strings.Join(args, " "), code)
	}
	return out
}

// upCLI starts a local cluster in root with `localcluster up` (the shared
// cluster makes way: the peers take the same addresses) and stops it with
// `localcluster down`, which stops every process by its pidfile, when the
// test ends.
func upCLI(t *testing.T, ctx context.Context, root string, flags ...string) {
	t.Helper()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if code, _ := cli(t, dctx, "localcluster", append(append([]string{"-root", root}, flags...), "down")...); code != 0 {
			t.Errorf("localcluster down: exit %d", code)
		}
	})
	mustCLI(t, ctx, "localcluster", append(append([]string{"-root", root}, flags...), "up")...)
	if _, err := os.Stat(filepath.Join(root, "edge.pid")); err != nil {
		t.Fatalf("localcluster up left no edge running: %v", err)
	}
}
