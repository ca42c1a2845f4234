//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// tryLock takes and immediately releases the POSIX (fcntl) write lock on
// path, the lock ipfs-cluster-service takes on cluster.lock (go4.org/lock via
// go-fs-lock). It reports false when another process holds it. A missing
// lock file means nobody holds the lock; it is not created.
func tryLock(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close() // closing drops the lock
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	err = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
	switch {
	case err == nil:
		lk.Type = syscall.F_UNLCK
		_ = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
		return true, nil
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EACCES):
		return false, nil
	default:
		return false, err
	}
}

// waitLock polls until the lock is free or the timeout (<= 0: no wait at
// all) ends.
func waitLock(ctx context.Context, path string, timeout, every time.Duration, log func(string)) error {
	deadline := time.Now().Add(timeout)
	logged := false
	for {
		free, err := tryLock(path)
		if err != nil {
			return fmt.Errorf("checking %s: %w", path, err)
		}
		if free {
			if logged {
				log("lock " + path + " is free")
			}
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%s still locked after %s: another ipfs-cluster-service holds it (or, on NFS/EFS, the lease of a killed one has not expired)", path, timeout)
		}
		if !logged {
			log(fmt.Sprintf("waiting up to %s for lock %s", timeout, path))
			logged = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
