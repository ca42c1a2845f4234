// Package localcluster runs the project's images' scripts against real kubo
// and ipfs-cluster binaries on loopback: a local three-peer cluster for users
// (cmd/localcluster) and the scenario tests (test/scenarios).
//
// Nothing here re-implements what the images do. Versions come from the
// Dockerfiles' FROM lines, kubo's environment from the kubo Dockerfile's ENV
// lines, kubo is initialised the way upstream's start_ipfs does it and then
// configured by docker/kubo/container-init.d/*.sh, and every cluster peer is
// started by docker/ipfs-cluster/cluster-entrypoint.sh. Only paths and
// addresses differ, through the environment contract in docker/README.md.
package localcluster
