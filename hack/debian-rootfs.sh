#!/usr/bin/env bash
# Makes the root file system of a Debian-based scaler image as a tarball for
# `docker import`: debootstrap minbase of SUITE plus the packages listed in
# hack/images/NAME/packages.txt, from the mirror apt on this machine uses,
# then slimmed and adjusted for a container.
#
# usage: hack/debian-rootfs.sh SUITE NAME OUT.tar
#
# Called by hack/build-images.sh, which caches OUT.tar by a hash of this
# script and the package list. Needs root (debootstrap chroots and mounts).
set -euo pipefail

SCALER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SCALER_ROOT
# shellcheck source=hack/lib.sh
source "$SCALER_ROOT/hack/lib.sh"

if [[ $# -ne 3 ]]; then
	echo "usage: hack/debian-rootfs.sh SUITE NAME OUT.tar" >&2
	exit 2
fi
readonly SUITE=$1 NAME=$2 OUT=$3
readonly WORK=$SCALER_ROOT/.cache/images/rootfs-$NAME
# Shared by every image: the second debootstrap downloads only its extras.
readonly DEB_CACHE=$SCALER_ROOT/.cache/debootstrap/$SUITE

SECONDS=${SCALER_ELAPSED:-0} # so that its log lines read on from the caller's
log() { printf 'images: [%3ds] %s\n' "$SECONDS" "$*" >&2; }

# unmount_under DIR lazily unmounts whatever a failed debootstrap left
# mounted inside DIR (proc, sys), so that removing DIR cannot reach the host's.
unmount_under() {
	local dir=$1 target
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r target; do
		umount -l "$target" || true
	done
}

# slim drops what a container never uses: apt's lists and caches,
# documentation (but the copyright files), man pages, translations, logs.
slim() {
	local root=$1
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
		"$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
		"$root"/usr/share/lintian "$root"/usr/share/bash-completion \
		"$root"/var/log/*.log "$root"/var/log/apt/* "$root"/var/cache/ldconfig/aux-cache
	find "$root/usr/share/doc" -type f ! -name copyright -delete
	find "$root/usr/share/doc" -type d -empty -delete
	# Docker provides /dev, /proc, /sys and the resolver files at run time.
	rm -rf "${root:?}"/dev/* "${root:?}"/proc/* "${root:?}"/sys/*
	: >"$root/etc/resolv.conf"
	: >"$root/etc/hostname"
}

customize_nginx() {
	local root=$1
	# Logs go to the container's output; the master opens them as root before
	# the workers drop to www-data.
	ln -sf /dev/stdout "$root/var/log/nginx/access.log"
	ln -sf /dev/stderr "$root/var/log/nginx/error.log"
	rm -f "$root/etc/nginx/sites-enabled/default"
}

customize_redis() {
	:
}

main() {
	local list=$SCALER_ROOT/hack/images/$NAME/packages.txt
	if [[ ! -f $list ]]; then
		echo "hack/debian-rootfs.sh: no package list $list" >&2
		exit 2
	fi
	if ! command -v debootstrap >/dev/null 2>&1; then
		log "debootstrap is missing: apt-get install -y debootstrap"
		exit 1
	fi
	if [[ $(id -u) != 0 ]]; then
		log "debootstrap needs root to build the $NAME root fs: run as root (or sudo make images)"
		exit 1
	fi
	local packages
	packages=$(grep -v '^[[:space:]]*#' "$list" | xargs | tr ' ' ',')
	local mirror
	mirror=$(scaler::apt_mirror "$SUITE")

	unmount_under "$WORK"
	rm -rf "$WORK"
	mkdir -p "$DEB_CACHE"
	trap 'unmount_under "$WORK"' EXIT
	log "debootstrap $SUITE minbase + $packages from $mirror (about a minute)"
	local debootstrap_log=$WORK.log
	if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$DEB_CACHE" \
		"$SUITE" "$WORK" "$mirror" >"$debootstrap_log" 2>&1; then
		log "debootstrap failed; its log: $debootstrap_log"
		tail -n 20 "$debootstrap_log" >&2
		exit 1
	fi
	unmount_under "$WORK"
	slim "$WORK"
	customize_"$NAME" "$WORK"
	tar --numeric-owner -C "$WORK" -cf "$OUT.tmp" .
	mv "$OUT.tmp" "$OUT"
	rm -rf "$WORK"
	log "packed the $NAME root fs: $(du -h "$OUT" | cut -f1)"
}

main
