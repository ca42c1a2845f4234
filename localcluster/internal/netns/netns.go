// Package netns keeps a local cluster's second region in a network
// namespace of its own: a persistent namespace bound to a file (as `ip netns
// add` does), entered by the processes of that region through nsenter, and
// by this program for one socket at a time (Do). Linux only, and it needs
// CAP_SYS_ADMIN (root).
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Exists reports whether path is a bound network namespace.
func Exists(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// Create binds a new network namespace to path (an empty file is created)
// and brings its loopback interface up: the whole of 127.0.0.0/8 is then
// local to it and to nothing else. An existing one is kept.
func Create(path string) error {
	if Exists(path) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return err
	}
	_ = f.Close()
	done := make(chan error, 1)
	// A thread of its own, never handed back to the Go scheduler: it
	// unshares its network namespace and ends with the goroutine.
	go func() {
		runtime.LockOSThread()
		done <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare(CLONE_NEWNET) (a second local region needs root): %w", err)
			}
			self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
			if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("binding the namespace to %s: %w", path, err)
			}
			return loopbackUp()
		}()
	}()
	if err := <-done; err != nil {
		_ = Remove(path)
		return err
	}
	return nil
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(fd) }()
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// Remove unbinds and deletes the namespace file; the namespace itself ends
// with the last process in it. A missing one is fine.
func Remove(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Do runs f on a thread that is in the namespace at path ("" runs f as
// is): the sockets f opens belong to that namespace for their whole life.
func Do(path string, f func() error) error {
	if path == "" {
		return f()
	}
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = target.Close() }()
	done := make(chan error, 1)
	go func() {
		// The thread stays locked, and so is thrown away when the
		// goroutine ends, unless it got back to its own namespace.
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			done <- err
			return
		}
		defer func() { _ = orig.Close() }()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("entering %s: %w", path, err)
			return
		}
		err = f()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// Wrap makes cmd start in the namespace at path, through nsenter(1).
func Wrap(cmd *exec.Cmd, path string) error {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return fmt.Errorf("a second local region needs nsenter (util-linux): %w", err)
	}
	cmd.Args = append([]string{nsenter, "--net=" + path, "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = nsenter
	return nil
}
