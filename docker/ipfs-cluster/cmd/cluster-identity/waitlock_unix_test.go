//go:build unix

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestWaitLock(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"IPFS_CLUSTER_PATH": dir, "IPFS_CLUSTER_WAIT_LOCK": "2s"}
	// No lock file: free, and none is created.
	if code, _, e := runCmd(t, env, "wait-lock"); code != 0 {
		t.Fatalf("no lock file: exit %d %s", code, e)
	}
	if _, err := os.Stat(filepath.Join(dir, lockFileName)); !os.IsNotExist(err) {
		t.Fatal("lock file created")
	}
	// Held by another process (fcntl locks are per process): a helper
	// test process takes it the way ipfs-cluster-service does.
	lockPath := filepath.Join(dir, lockFileName)
	if err := os.WriteFile(lockPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	holder := exec.Command(os.Args[0], "-test.run=^TestHoldLock$")
	holder.Env = append(os.Environ(), "HOLD_LOCK="+lockPath)
	stdout, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "LOCKED" {
		t.Fatalf("holder did not lock: %q %v", buf, err)
	}
	env["IPFS_CLUSTER_WAIT_LOCK"] = "1500ms"
	start := time.Now()
	code, _, errOut := runCmd(t, env, "wait-lock")
	if code == 0 || time.Since(start) < time.Second {
		t.Fatalf("held lock: exit %d after %s: %s", code, time.Since(start), errOut)
	}
	// Released while waiting: succeeds.
	go func() { time.Sleep(1500 * time.Millisecond); holder.Process.Kill() }()
	env["IPFS_CLUSTER_WAIT_LOCK"] = "10s"
	if code, _, e := runCmd(t, env, "wait-lock"); code != 0 {
		t.Fatalf("released lock: exit %d %s", code, e)
	}
	holder.Wait()
	if code, _, _ := runCmd(t, map[string]string{"IPFS_CLUSTER_PATH": dir, "IPFS_CLUSTER_WAIT_LOCK": "soon"}, "wait-lock"); code == 0 {
		t.Fatal("bad duration accepted")
	}
}

// TestHoldLock is the helper process of TestWaitLock.
func TestHoldLock(t *testing.T) {
	path := os.Getenv("HOLD_LOCK")
	if path == "" {
		t.Skip("helper process only")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("LOCKED")
	time.Sleep(time.Minute)
}
