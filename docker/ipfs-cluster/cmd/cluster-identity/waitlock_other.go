//go:build !unix

package main

import (
	"context"
	"time"
)

func waitLock(ctx context.Context, path string, timeout, every time.Duration, log func(string)) error {
	return nil
}
