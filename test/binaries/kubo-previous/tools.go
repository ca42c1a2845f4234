//go:build tools

// Package tools pins the kubo release a deployment ran before the one of
// docker/kubo/Dockerfile: the upgrade rehearsal (test/scenarios) starts
// peers on it and rolls them onto the pinned release, as "Upgrade kubo or
// ipfs-cluster" in docs/runbooks.md does. Bump it to the outgoing version
// whenever the Dockerfile's FROM changes (checked: it must be older).
package tools

import _ "github.com/ipfs/kubo/cmd/ipfs"
