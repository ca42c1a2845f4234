//go:build unix

package jsiiexit

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// keepStderr returns a copy of descriptor 2 (os.Stderr if it cannot).
func keepStderr() *os.File {
	fd, err := unix.Dup(2)
	if err != nil {
		return os.Stderr
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "/dev/stderr")
}

// quietly runs end with file descriptor 2 on a pipe, then points it at
// /dev/null for good (a late race line goes nowhere) and passes on what
// the pipe got, without the race line, to the original stderr.
func quietly(end func()) {
	r, w, err := os.Pipe()
	if err != nil {
		end()
		return
	}
	stderr, err := unix.Dup(2)
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		end()
		return
	}
	defer func() { _ = unix.Close(stderr) }()
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		_ = r.Close()
		_ = w.Close()
		end()
		return
	}
	_ = w.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		_ = r.Close()
		got <- b
	}()

	end()

	// Replacing descriptor 2 also drops the pipe's last write end, so the
	// reader sees the end of what end() wrote.
	// Should that fail, the original stderr goes back in its place: the
	// pipe's write end must go either way, or the reader never ends.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err == nil {
		err = unix.Dup2(int(null.Fd()), 2)
		_ = null.Close()
	}
	if err != nil {
		_ = unix.Dup2(stderr, 2)
	}
	out := raceLine.ReplaceAll(<-got, nil)
	for len(out) > 0 {
		n, err := unix.Write(stderr, out)
		if err != nil {
			return
		}
		out = out[n:]
	}
}
