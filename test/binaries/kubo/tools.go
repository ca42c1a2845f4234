//go:build tools

// Package tools pins the kubo release that test/binaries builds; the version
// must equal the FROM line of docker/kubo/Dockerfile (checked by a test).
package tools

import _ "github.com/ipfs/kubo/cmd/ipfs"
