#!/bin/sh
# Runs on EVERY start of the kubo container, after upstream start_ipfs has
# initialised a new repo (ipfs init --profile=$IPFS_PROFILE) and before
# `ipfs daemon`. Idempotent: each step sets the value the environment asks
# for, whatever the repo held before, so settings follow the image and the
# task definition even though the repo lives on EFS.
#
# Also runs outside a container (localcluster, tests): everything comes from
# the environment; IPFS_PATH selects the repo, `ipfs` must be on PATH.
# POSIX sh (busybox ash in the image). See docker/README.md for the contract.
# Executed (not sourced) by container_init_run because it is executable;
# the body runs in a subshell so that it is also safe to source.

EMPTY_DIR_CID=QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn

log() { printf 'kubo-init: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# json_array "a, b,c" -> ["a","b","c"]. Items may hold only characters that
# appear in multiaddrs and host names, so no JSON escaping is ever needed.
json_array() {
	_out=""
	_ifs=$IFS
	IFS=", 	
"
	for _item in $1; do
		case $_item in
		*[!A-Za-z0-9./:_*-]*) IFS=$_ifs; die "invalid character in list item '$_item'" ;;
		esac
		_out="$_out${_out:+,}\"$_item\""
	done
	IFS=$_ifs
	printf '[%s]' "$_out"
}

cfg() { ipfs config "$@" >/dev/null; }

# set_if_changed KEY JSON: write only when the value differs (fewer config
# rewrites on EFS, quieter logs).
set_json() {
	_cur=$(ipfs config "$1" 2>/dev/null | tr -d ' \t\n') || _cur=""
	_new=$(printf '%s' "$2" | tr -d ' \t\n')
	if [ "$_cur" != "$_new" ]; then
		cfg --json "$1" "$2"
		log "$1 = $2"
	fi
}

set_string() {
	_cur=$(ipfs config "$1" 2>/dev/null) || _cur=""
	if [ "$_cur" != "$2" ]; then
		cfg "$1" "$2"
		log "$1 = $2"
	fi
}

# remove_items KEY "a,b": drop the listed entries from a JSON string array.
remove_items() {
	_raw=$(ipfs config "$1" 2>/dev/null) || _raw=null
	[ "$_raw" = null ] && return 0
	_kept=""
	_dropped=""
	_ifs=$IFS
	IFS='
'
	for _item in $(printf '%s' "$_raw" | tr -d '[] \t\n' | tr ',' '\n' | sed 's/^"//; s/"$//'); do
		[ -n "$_item" ] || continue
		case ",$2," in
		*",$_item,"*) _dropped="$_dropped $_item" ;;
		*) _kept="$_kept${_kept:+,}$_item" ;;
		esac
	done
	IFS=$_ifs
	if [ -n "$_dropped" ]; then
		cfg --json "$1" "$(json_array "$_kept")"
		log "$1: removed$_dropped"
	fi
}

# host_list VARIABLE VALUE: the comma list's host names, one per line,
# sorted and unique; dies on anything but a host name.
host_list() {
	_json=$(json_array "$2") || exit 1
	_items=$(printf '%s' "$_json" | tr -d '[]"' | tr ',' ' ')
	for _h in $_items; do
		case $_h in *:* | */*) die "$1: '$_h' is not a host name" ;; esac
	done
	for _h in $_items; do
		printf '%s\n' "$_h"
	done | LC_ALL=C sort -u
}

# public_gateways: Gateway.PublicGateways from the three host lists. One
# role per host; keys sorted, as `ipfs config` prints them, so that an
# unchanged value compares equal and is not rewritten.
#  - path gateway: /ipfs/<cid> on the host itself, no DNSLink by Host;
#  - subdomain gateway: /ipfs/<cid> on the host redirects to
#    <cid>.ipfs.<host>, one origin per content root; DNSLink names are
#    inlined into one label (<a-b--c-org>.ipns.<host>), because TLS ends at
#    CloudFront and kubo never sees https, the case in which it would
#    inline them anyway: a wildcard certificate covers one label only;
#  - DNSLink website: every path is the site _dnslink.<host> names; no
#    /ipfs/ paths of other content on the site's origin.
public_gateways() {
	_path=$(host_list KUBO_PUBLIC_GATEWAY_HOSTS "$hosts") || exit 1
	_sub=$(host_list KUBO_SUBDOMAIN_GATEWAY_HOSTS "$subdomain_hosts") || exit 1
	_dnslink=$(host_list KUBO_DNSLINK_HOSTS "$dnslink_hosts") || exit 1
	_dup=$(printf '%s\n%s\n%s\n' "$_path" "$_sub" "$_dnslink" | grep -v '^$' | LC_ALL=C sort | uniq -d | head -n 1)
	[ -z "$_dup" ] || die "'$_dup' is in more than one of KUBO_PUBLIC_GATEWAY_HOSTS, KUBO_SUBDOMAIN_GATEWAY_HOSTS, KUBO_DNSLINK_HOSTS"
	{
		for _h in $_path; do
			printf '%s\t{"NoDNSLink":true,"Paths":["/ipfs","/ipns"],"UseSubdomains":false}\n' "$_h"
		done
		for _h in $_sub; do
			printf '%s\t{"InlineDNSLink":true,"NoDNSLink":true,"Paths":["/ipfs","/ipns"],"UseSubdomains":true}\n' "$_h"
		done
		for _h in $_dnslink; do
			printf '%s\t{"NoDNSLink":false,"Paths":[],"UseSubdomains":false}\n' "$_h"
		done
	} | LC_ALL=C sort | {
		_gw=""
		while IFS='	' read -r _h _spec; do
			_gw="$_gw${_gw:+,}\"$_h\":$_spec"
		done
		printf '{%s}' "$_gw"
	}
}

# dns_resolvers "d1=url1,d2=" -> {"d1":"url1","d2":""} (sorted by domain);
# empty for an empty list. An empty URL is the system resolver; kubo takes
# only DNS-over-HTTPS URLs otherwise.
dns_resolvers() {
	[ -n "$1" ] || return 0
	_pairs=$(printf '%s' "$1" | tr ',' '\n' | LC_ALL=C sort) || exit 1
	_out=""
	_ifs=$IFS
	IFS='
'
	for _pair in $_pairs; do
		_domain=${_pair%%=*}
		_url=${_pair#*=}
		[ "$_domain" != "$_pair" ] || { IFS=$_ifs; die "KUBO_DNS_RESOLVERS: '$_pair' is not domain=url"; }
		case $_domain in
		. | [a-z0-9]*.) ;;
		*) IFS=$_ifs; die "KUBO_DNS_RESOLVERS: domain '$_domain' must be '.' or end in '.'" ;;
		esac
		case $_domain in *[!a-z0-9.-]*) IFS=$_ifs; die "KUBO_DNS_RESOLVERS: domain '$_domain' is not a DNS name" ;; esac
		case $_url in
		'' | auto) ;;
		https://* | http://127.0.0.1[:/]* | http://localhost[:/]*)
			case $_url in *[!A-Za-z0-9:/._~%?\&=+-]*) IFS=$_ifs; die "KUBO_DNS_RESOLVERS: invalid character in '$_url'" ;; esac
			;;
		*) IFS=$_ifs; die "KUBO_DNS_RESOLVERS: '$_url' for '$_domain' is not empty, auto or a DoH URL (https://, or http:// on 127.0.0.1 or localhost only)" ;;
		esac
		_out="$_out${_out:+,}\"$_domain\":\"$_url\""
	done
	IFS=$_ifs
	printf '{%s}' "$_out"
}

bool() {
	case $2 in
	true | false) printf '%s' "$2" ;;
	*) die "$1 must be true or false, got '$2'" ;;
	esac
}

main() {
	command -v ipfs >/dev/null 2>&1 || die "ipfs not found on PATH"
	[ -e "${IPFS_PATH:-$HOME/.ipfs}/config" ] || die "no repo at ${IPFS_PATH:-$HOME/.ipfs}"

	api=${KUBO_API_ADDRESS:-/ip4/127.0.0.1/tcp/5001}
	gateway=${KUBO_GATEWAY_ADDRESS:-/ip4/0.0.0.0/tcp/8080}
	swarm=${KUBO_SWARM_ADDRESSES:-/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/udp/4001/quic-v1,/ip4/0.0.0.0/udp/4001/quic-v1/webtransport,/ip4/0.0.0.0/udp/4001/webrtc-direct}
	allowed=${KUBO_ALLOWED_PRIVATE_RANGES-/ip4/10.0.0.0/ipcidr/8,/ip4/172.16.0.0/ipcidr/12,/ip4/192.168.0.0/ipcidr/16,/ip4/100.64.0.0/ipcidr/10}
	storage_max=${KUBO_STORAGE_MAX:-100GB}
	bloom=${KUBO_BLOOM_FILTER_SIZE:-16777216}
	max_memory=${KUBO_RESOURCE_MAX_MEMORY:-}
	nofetch=$(bool KUBO_GATEWAY_NOFETCH "${KUBO_GATEWAY_NOFETCH:-false}")
	hosts=${KUBO_PUBLIC_GATEWAY_HOSTS:-}
	subdomain_hosts=${KUBO_SUBDOMAIN_GATEWAY_HOSTS:-}
	dnslink_hosts=${KUBO_DNSLINK_HOSTS:-}
	resolvers=${KUBO_DNS_RESOLVERS:-}
	expose_routing=$(bool KUBO_GATEWAY_EXPOSE_ROUTING_API "${KUBO_GATEWAY_EXPOSE_ROUTING_API:-false}")
	strategy=${KUBO_PROVIDE_STRATEGY:-pinned}
	bootstrap=${KUBO_BOOTSTRAP:-default}
	case $bootstrap in
	default | none) ;;
	*) die "KUBO_BOOTSTRAP must be 'default' or 'none', got '$bootstrap'" ;;
	esac
	case $bloom in '' | *[!0-9]*) die "KUBO_BLOOM_FILTER_SIZE must be a byte count, got '$bloom'" ;; esac

	# Validate every list first: a failing $(...) inside an argument would
	# not stop the script.
	api_json=$(json_array "$api")
	gateway_json=$(json_array "$gateway")
	swarm_json=$(json_array "$swarm")
	allowed_json=$(json_array "$allowed")
	allowed_list=$(printf '%s' "$allowed_json" | tr -d '[]"')
	public_gateways=$(public_gateways)
	resolvers_json=$(dns_resolvers "$resolvers")

	# Listeners. RPC is admin-level: keep it on loopback (upstream's
	# start_ipfs binds it to 0.0.0.0 at init).
	set_json Addresses.API "$api_json"
	set_json Addresses.Gateway "$gateway_json"
	set_json Addresses.Swarm "$swarm_json"

	# The server profile filters and hides private ranges: tasks inside one
	# VPC could then neither dial nor learn each other's addresses.
	if [ -n "$allowed_list" ]; then
		remove_items Swarm.AddrFilters "$allowed_list"
		remove_items Addresses.NoAnnounce "$allowed_list"
	fi

	# Datastore: StorageMax feeds the cluster's freespace allocator.
	set_string Datastore.StorageMax "$storage_max"
	set_json Datastore.BloomFilterSize "$bloom"

	if [ -n "$max_memory" ]; then
		set_string Swarm.ResourceMgr.MaxMemory "$max_memory"
	else
		set_json Swarm.ResourceMgr.MaxMemory null
	fi

	# Gateway: the hosts CloudFront forwards (path gateways, subdomain
	# gateways, DNSLink websites); no delegated-routing endpoint
	# (/routing/v1) for the whole Internet. DNSLink by Host only for the
	# listed websites: any other Host (the ALB's name, an address) never
	# costs a DNS lookup and is never served as somebody's site.
	set_json Gateway.NoFetch "$nofetch"
	set_json Gateway.ExposeRoutingAPI "$expose_routing"
	set_json Gateway.NoDNSLink true
	if [ "$public_gateways" != "{}" ]; then
		set_json Gateway.PublicGateways "$public_gateways"
	else
		set_json Gateway.PublicGateways null
	fi

	# Announce only what the cluster pinned (recursively, roots and children).
	set_string Provide.Strategy "$strategy"

	case $bootstrap in
	none)
		# Loopback/offline clusters: no public bootstrap, no autoconf
		# fetches, no delegated routers (what kubo's `test` profile does).
		set_json Bootstrap '[]'
		set_json AutoConf.Enabled false
		default_resolvers='{}'
		set_json Routing.DelegatedRouters '[]'
		set_json Ipns.DelegatedPublishers '[]'
		;;
	default)
		# Fresh-init values of kubo v0.43 (autoconf placeholders).
		set_json Bootstrap '["auto"]'
		set_json AutoConf.Enabled null
		default_resolvers='{".":"auto"}'
		set_json Routing.DelegatedRouters '["auto"]'
		set_json Ipns.DelegatedPublishers '["auto"]'
		;;
	esac
	# DNSLink (websites, /ipns/<domain>) resolves through DNS.Resolvers;
	# KUBO_DNS_RESOLVERS replaces the bootstrap mode's choice.
	set_json DNS.Resolvers "${resolvers_json:-$default_resolvers}"

	# The ALB health check fetches the empty directory; with NoFetch it must
	# be local. `ipfs init` pins it; restore it if it went missing.
	if ! ipfs pin ls --type=recursive "$EMPTY_DIR_CID" >/dev/null 2>&1; then
		# dag-pb block of an empty UnixFS directory: 0a 02 08 01.
		printf '\012\002\010\001' | ipfs block put --cid-codec=dag-pb >/dev/null
		ipfs pin add --progress=false "$EMPTY_DIR_CID" >/dev/null
		log "pinned empty directory $EMPTY_DIR_CID"
	fi
	log "configuration applied"
}

(
	set -eu
	set -f # no globbing: values such as *.example.com must stay literal
	main
)
