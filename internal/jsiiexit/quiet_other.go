//go:build !unix

package jsiiexit

import "os"

// quietly has no descriptor to redirect here: the race line may show.
func quietly(end func()) { end() }

// keepStderr: Close leaves descriptor 2 alone here.
func keepStderr() *os.File { return os.Stderr }
