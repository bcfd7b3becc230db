#!/usr/bin/env bash
# Makes sure debootstrap is there before hack/debian-rootfs.sh needs it
# (building the root file systems of scaler-nginx:dev and scaler-redis:dev,
# once: they are cached under .cache/images). As root with apt-get it
# installs Debian's package, saying so; otherwise it says exactly what to
# run, instead of a fresh machine stopping halfway through `make run`.
set -euo pipefail

if command -v debootstrap >/dev/null 2>&1; then
	exit 0
fi
log() { printf 'images: %s\n' "$*" >&2; }
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
	log "debootstrap is missing: installing it (apt-get install -y debootstrap), to build the nginx and redis root file systems"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	log "installed $(debootstrap --version 2>/dev/null || echo debootstrap)"
	exit 0
fi
cat >&2 <<'MSG'
images: debootstrap is missing. It builds the root file systems of the
scaler-nginx:dev and scaler-redis:dev images (once; they are then cached in
.cache/images), and it needs root, since it chroots and mounts. Run:

  sudo apt-get install -y debootstrap    # Debian/Ubuntu
  sudo make images                       # or: sudo hack/build-images.sh
  make run                               # finds the images built

(hack/debian-rootfs.sh is the step that runs debootstrap; see
hack/README-images.md.)
MSG
exit 1
