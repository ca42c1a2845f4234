#!/bin/sh
# restore-from-backup ROOT: puts a node's data restored by AWS Backup into
# place. An EFS restore never overwrites: restoring a recovery point into the
# node's own file system lands the whole tree in ROOT/aws-backup-restore_<time>/.
# The node's tasks see only the access points /ipfs (kubo repo) and
# /ipfs-cluster (cluster state), so this runs in the node's maintenance task
# (the file system root mounted at ROOT, as root) while the node is stopped
# (desired count 0: nothing may hold the repository while it is swapped):
# the current directories are kept beside as <dir>.before-restore-<time>, the
# restored ones take their place, owned by RESTORE_OWNER (uid:gid of the
# node's containers). The peer's identity does not come from its data (seed +
# index), so the node comes back under the same peer IDs.
#
# restore-from-backup --discard-previous ROOT deletes the kept
# *.before-restore-* directories once the restored node is healthy.
set -eu

if [ "${1:-}" = --discard-previous ]; then
	root=${2:?usage: restore-from-backup --discard-previous ROOT}
	cd "$root"
	for d in ipfs.before-restore-* ipfs-cluster.before-restore-*; do
		if [ -d "$d" ]; then
			rm -rf "$d"
			echo "restore-from-backup: deleted $root/$d"
		fi
	done
	exit 0
fi
root=${1:?usage: restore-from-backup ROOT (the file system root)}
owner=${RESTORE_OWNER:?RESTORE_OWNER (uid:gid of the node containers) is required}
cd "$root"

set -- aws-backup-restore_*
if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then
	echo "restore-from-backup: expected exactly one aws-backup-restore_* directory in $root, found: $*" >&2
	echo "restore-from-backup: remove older restores (or move them aside) and run again" >&2
	exit 1
fi
restored=$1
for d in ipfs ipfs-cluster; do
	if [ ! -d "$restored/$d" ]; then
		echo "restore-from-backup: $root/$restored has no $d/: not a restore of a node's file system" >&2
		exit 1
	fi
done
stamp=${restored#aws-backup-restore_}
for d in ipfs ipfs-cluster; do
	if [ -e "$d" ]; then
		mv "$d" "$d.before-restore-$stamp"
	fi
	mv "$restored/$d" "$d"
done
rmdir "$restored" 2>/dev/null || echo "restore-from-backup: $root/$restored holds more than the node's data; left in place" >&2
if [ "$(id -u)" = 0 ]; then
	chown -R "$owner" ipfs ipfs-cluster
fi
echo "restore-from-backup: $root/ipfs and $root/ipfs-cluster now hold $restored; the previous data is in *.before-restore-$stamp (delete it once the node is healthy)"
