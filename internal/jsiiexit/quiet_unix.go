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
		r.Close()
		w.Close()
		end()
		return
	}
	defer unix.Close(stderr)
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		r.Close()
		w.Close()
		end()
		return
	}
	w.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		got <- b
	}()

	end()

	// Replacing descriptor 2 also drops the pipe's last write end, so the
	// reader sees the end of what end() wrote.
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		unix.Dup2(int(null.Fd()), 2)
		null.Close()
	} else {
		unix.Dup2(stderr, 2)
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
