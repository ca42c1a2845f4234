//go:build unix

package jsiiexit

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const race = "Runtime process exited abnormally: waitid: no child processes"

// captureStderr runs f with descriptor 2 on a file and returns what
// reached the file.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "stderr")
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = out.Close() }()
	saved, err := unix.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup2(int(out.Fd()), 2); err != nil {
		t.Fatal(err)
	}
	f()
	if err := unix.Dup2(saved, 2); err != nil {
		t.Fatal(err)
	}
	_ = unix.Close(saved)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestQuietlyDropsTheRaceLineOnly(t *testing.T) {
	late := make(chan struct{})
	got := captureStderr(t, func() {
		quietly(func() {
			fmt.Fprint(os.Stderr, "the kernel's last words\n")
			fmt.Fprint(os.Stderr, race) // the watcher lost while Close waited
			fmt.Fprint(os.Stderr, "Runtime process exited abnormally: exit status 3")
			// ... or it prints after Close returned, the app exiting.
			go func() {
				time.Sleep(20 * time.Millisecond)
				fmt.Fprint(os.Stderr, race)
				close(late)
			}()
		})
		<-late
	})
	want := "the kernel's last words\nRuntime process exited abnormally: exit status 3"
	if got != want {
		t.Fatalf("stderr:\n%q\nwant:\n%q", got, want)
	}
}

func TestQuietlyWithoutTheRaceChangesNothing(t *testing.T) {
	got := captureStderr(t, func() {
		quietly(func() { fmt.Fprint(os.Stderr, "line one\nline two\n") })
	})
	if got != "line one\nline two\n" {
		t.Fatalf("stderr: %q", got)
	}
}
