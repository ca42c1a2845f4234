//go:build tools

// Package tools pins the ipfs-cluster release that test/binaries builds; the
// version must equal the FROM line of docker/ipfs-cluster/Dockerfile.
package tools

import (
	_ "github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl"
	_ "github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service"
)
