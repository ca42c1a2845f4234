#!/bin/sh
# Entrypoint of the ipfs-cluster image (replaces upstream entrypoint.sh).
#
#  1. as root: drop to user ipfs with su-exec, like upstream (outside a
#     container, or without su-exec / user ipfs, it runs as the caller);
#  2. derives this peer's identity, the cluster secret, peer_addresses and
#     trusted_peers from CLUSTER_IDENTITY_SEED (cluster-identity), and
#     (re)writes identity.json so it always matches;
#  3. runs `ipfs-cluster-service init` only when service.json is missing;
#  4. exports the production settings as CLUSTER_* overrides (applied by
#     ipfs-cluster at every start, whatever service.json on EFS holds);
#  5. removes the seed and the REST credentials' source variables, and execs
#     the daemon (signals reach it directly: tini -> ipfs-cluster-service).
#
# POSIX sh (busybox ash in the image). Never prints secrets: no `set -x`.
# Contract: docker/README.md.
set -eu

log() { printf 'cluster-entrypoint: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

user=ipfs
IPFS_CLUSTER_PATH=${IPFS_CLUSTER_PATH:-/data/ipfs-cluster}
export IPFS_CLUSTER_PATH

if [ "$(id -u)" -eq 0 ] && command -v su-exec >/dev/null 2>&1 && id "$user" >/dev/null 2>&1; then
	mkdir -p "$IPFS_CLUSTER_PATH"
	su-exec "$user" test -w "$IPFS_CLUSTER_PATH" || chown -R -- "$user" "$IPFS_CLUSTER_PATH"
	exec su-exec "$user" "$0" "$@"
fi

[ $# -gt 0 ] || set -- daemon

for v in CLUSTER_IDENTITY_SEED CLUSTER_PEER_INDEX CLUSTER_PEER_MULTIADDRS RESTAPI_USERNAME RESTAPI_PASSWORD; do
	eval "[ -n \"\${$v:-}\" ]" || die "$v is not set"
done
# ipfs-cluster parses credentials as "user:pass,user2:pass2".
case $RESTAPI_USERNAME in *[:,]*) die "RESTAPI_USERNAME must not contain ':' or ','" ;; esac
case $RESTAPI_PASSWORD in *[:,]*) die "RESTAPI_PASSWORD must not contain ':' or ','" ;; esac
case $CLUSTER_PEER_INDEX in '' | *[!0-9]*) die "CLUSTER_PEER_INDEX must be a non-negative integer" ;; esac

bind=${CLUSTER_BIND_ADDRESS:-0.0.0.0}
case $bind in
*:*) ipproto=ip6 ;;
*) ipproto=ip4 ;;
esac
# Address for the local-only APIs: loopback; the bind address itself when
# that is a loopback address (several peers on one host, e.g. localcluster).
case $bind in
127.*) local_addr=/ip4/$bind ;;
*) local_addr=/ip4/127.0.0.1 ;;
esac

mkdir -p "$IPFS_CLUSTER_PATH"
command -v cluster-identity >/dev/null 2>&1 || die "cluster-identity not found on PATH"
command -v ipfs-cluster-service >/dev/null 2>&1 || die "ipfs-cluster-service not found on PATH"

# Another daemon (or, on EFS, the NFS lease of a killed task) may still hold
# the config folder's lock; ipfs-cluster-service would fail at once.
cluster-identity wait-lock -dir "$IPFS_CLUSTER_PATH" -timeout "${IPFS_CLUSTER_WAIT_LOCK:-0}"

# Identity, secret, peer_addresses, trusted_peers. identity.json is written
# by cluster-identity (0600, only if it differs); the private key never
# enters the environment.
exports=$(cluster-identity env -identity-file "$IPFS_CLUSTER_PATH/identity.json") ||
	die "cannot derive the cluster identity"
eval "$exports"
unset exports

# Production settings, each overridable by setting the variable.
export CLUSTER_PEERNAME="${CLUSTER_PEERNAME:-node$CLUSTER_PEER_INDEX}"
# Cluster swarm: TCP only. ipfs-cluster v1.1.6 builds its libp2p host with
# TCP and websocket transports only (QUIC does not support private networks).
export CLUSTER_LISTENMULTIADDRESS="${CLUSTER_LISTENMULTIADDRESS:-/$ipproto/$bind/tcp/9096}"
export CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS="${CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS:-/$ipproto/$bind/tcp/9094}"
export CLUSTER_IPFSHTTP_NODEMULTIADDRESS="${CLUSTER_IPFSHTTP_NODEMULTIADDRESS:-/ip4/127.0.0.1/tcp/5001}"
# Local-only APIs: the IPFS proxy and the Pinning Service API stay on
# loopback (they are enabled because service.json has their sections).
export CLUSTER_IPFSPROXY_LISTENMULTIADDRESS="${CLUSTER_IPFSPROXY_LISTENMULTIADDRESS:-$local_addr/tcp/9095}"
export CLUSTER_IPFSPROXY_NODEMULTIADDRESS="${CLUSTER_IPFSPROXY_NODEMULTIADDRESS:-$CLUSTER_IPFSHTTP_NODEMULTIADDRESS}"
export CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS="${CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS:-$local_addr/tcp/9097}"
export CLUSTER_MDNSINTERVAL="${CLUSTER_MDNSINTERVAL:-0s}"
# Peers learn of each other from these pings (metrics expire after two
# intervals): 5s (upstream 15s) lets a new or rebuilt peer know its peers
# within seconds, in time for the swarm connection below.
export CLUSTER_MONITORPINGINTERVAL="${CLUSTER_MONITORPINGINTERVAL:-5s}"
# Gossipsub heartbeat (upstream 10s): a starting peer joins the mesh, and
# a broadcast dropped under load is gossiped again, at the next heartbeat.
export CLUSTER_PUBSUB_HEARTBEATINTERVAL="${CLUSTER_PUBSUB_HEARTBEATINTERVAL:-2s}"
# Kubo connects to the other peers' kubo daemons only this long after the
# start (upstream 30s, once); until then a rebuilt peer cannot fetch what
# it must hold. Two ping intervals: the peers are known by then.
export CLUSTER_IPFSHTTP_CONNECTSWARMSDELAY="${CLUSTER_IPFSHTTP_CONNECTSWARMSDELAY:-10s}"
export CLUSTER_STATELESS_CONCURRENTPINS="${CLUSTER_STATELESS_CONCURRENTPINS:-10}"
# pin_timeout counts from the last block received (2m upstream).
export CLUSTER_IPFSHTTP_PINTIMEOUT="${CLUSTER_IPFSHTTP_PINTIMEOUT:-5m}"
# CRDT batching off: a batch commits only when full or max_batch_age old, so
# every isolated pin waited that long (measured: +5 s per add with 500/5s)
# and sat uncommitted in this peer's memory meanwhile, lost if it died.
# Enable (e.g. 500/5s) only for bulk pin ingestion.
export CLUSTER_CRDT_BATCHING_MAXBATCHSIZE="${CLUSTER_CRDT_BATCHING_MAXBATCHSIZE:-0}"
export CLUSTER_CRDT_BATCHING_MAXBATCHAGE="${CLUSTER_CRDT_BATCHING_MAXBATCHAGE:-0s}"
# Heads rebroadcast (upstream 1m): a peer that restarts, was cut off or
# missed a broadcast under load learns what changed within this interval.
export CLUSTER_CRDT_REBROADCASTINTERVAL="${CLUSTER_CRDT_REBROADCASTINTERVAL:-5s}"
# Pinset writes reach the kernel, not the disk, before the answer
# (go-ds-leveldb fsyncs each write otherwise: a quarter of the pins per
# second); a killed process loses none. The task definition sets it from
# syncPinsetWrites.
export CLUSTER_LEVELDB_LEVELDBOPTIONS_NOSYNC="${CLUSTER_LEVELDB_LEVELDBOPTIONS_NOSYNC:-true}"

# First start on an empty volume. identity.json exists already, so init
# keeps it; CLUSTER_SECRET is in the environment, so init stores the derived
# secret, not a random one. The credentials are kept out of service.json.
if [ ! -e "$IPFS_CLUSTER_PATH/service.json" ]; then
	log "no service.json in $IPFS_CLUSTER_PATH: initialising (crdt)"
	(
		unset CLUSTER_RESTAPI_BASICAUTHCREDENTIALS CLUSTER_PINSVCAPI_BASICAUTHCREDENTIALS \
			CLUSTER_IDENTITY_SEED RESTAPI_USERNAME RESTAPI_PASSWORD
		# leveldb, not pebble: go-ds-pebble writes without sync and pebble
		# keeps the last partial WAL block in process memory until a sync,
		# so a SIGKILL (OOM, stop timeout) lost the recent pinset state
		# (a restarted peer came back with 0 CRDT heads); leveldb hands
		# every write to the kernel.
		exec ipfs-cluster-service init --consensus crdt --datastore "${IPFS_CLUSTER_DATASTORE:-leveldb}"
	) >&2 || die "ipfs-cluster-service init failed"
fi

# REST API basic auth: always on. The Pinning Service API gets the same
# credentials so that it is never open, even if someone exposes it.
CLUSTER_RESTAPI_BASICAUTHCREDENTIALS="$RESTAPI_USERNAME:$RESTAPI_PASSWORD"
CLUSTER_PINSVCAPI_BASICAUTHCREDENTIALS=$CLUSTER_RESTAPI_BASICAUTHCREDENTIALS
export CLUSTER_RESTAPI_BASICAUTHCREDENTIALS CLUSTER_PINSVCAPI_BASICAUTHCREDENTIALS
unset CLUSTER_IDENTITY_SEED RESTAPI_USERNAME RESTAPI_PASSWORD

log "peer $CLUSTER_PEER_INDEX ($CLUSTER_PEERNAME) id $CLUSTER_ID; swarm $CLUSTER_LISTENMULTIADDRESS; REST $CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS; ipfs $CLUSTER_IPFSHTTP_NODEMULTIADDRESS"
exec ipfs-cluster-service "$@"
