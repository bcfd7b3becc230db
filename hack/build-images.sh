#!/usr/bin/env bash
# Builds the images scaler runs without a registry:
#
#   demoapp:dev        FROM scratch + the static demoapp binary built here
#   scaler-nginx:dev   nginx from Debian's packages (debootstrap, docker import)
#   scaler-redis:dev   redis-server from Debian's packages (idem)
#   scalerd:dev        FROM scratch + the static scalerd and scalectl
#
# usage: hack/build-images.sh [demoapp|nginx|redis|scalerd ...]   (default: all four)
#
# Each image carries the label scaler.dev/input-hash, a hash of everything it
# is built from; an image whose label matches is left alone, so a second run
# takes seconds. The Debian root file systems (hack/debian-rootfs.sh) are
# cached as tarballs under .cache/images and the downloaded .debs under
# .cache/debootstrap, so that a changed Dockerfile or nginx.conf does not
# re-run debootstrap.
# SCALER_FORCE_IMAGES=1 rebuilds regardless.
set -euo pipefail

SCALER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SCALER_ROOT
# shellcheck source=hack/lib.sh
source "$SCALER_ROOT/hack/lib.sh"

readonly SUITE=bookworm
readonly HASH_LABEL=scaler.dev/input-hash
readonly CACHE=$SCALER_ROOT/.cache/images
# The classic builder is in every Docker Engine and, with these FROM lines
# (scratch, or a local image id), needs no registry; BuildKit may not be
# installed (docker buildx).
export DOCKER_BUILDKIT=0

log() { printf 'images: [%3ds] %s\n' "$SECONDS" "$*" >&2; }

# up_to_date IMAGE HASH: true when IMAGE exists with that input hash.
up_to_date() {
	[[ ${SCALER_FORCE_IMAGES:-0} != 1 && "$(scaler::image_label "$1" "$HASH_LABEL")" == "$2" ]]
}

# docker_build IMAGE HASH CONTEXT [build-arg...] builds IMAGE and removes the
# image it replaces, so that repeated builds do not pile up untagged images.
docker_build() {
	local image=$1 hash=$2 context=$3
	shift 3
	local old
	old=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
	local args=(build --quiet --label "$HASH_LABEL=$hash" --tag "$image")
	local arg
	for arg in "$@"; do args+=(--build-arg "$arg"); done
	local out
	# The output is shown only on failure: the classic builder's deprecation
	# notice on every build would only hide what matters.
	if ! out=$(docker "${args[@]}" "$context" 2>&1); then
		printf '%s\n' "$out" >&2
		log "docker build of $image failed"
		return 1
	fi
	local new
	new=$(docker image inspect --format '{{.Id}}' "$image")
	if [[ -n $old && $old != "$new" ]]; then
		if ! out=$(docker image rm "$old" 2>&1); then
			# Still used by a container, most likely: it goes when they do.
			log "kept the previous $image: ${out##*: }"
		fi
	fi
}

build_demoapp() {
	local image=demoapp:dev
	local context=$CACHE/demoapp
	mkdir -p "$context"
	# -trimpath and -buildvcs=false make the binary the same in every clone
	# and at every commit that does not change its code, so the hash below
	# changes only when demoapp does.
	(cd "$SCALER_ROOT" && CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false -ldflags='-s -w' \
		-o "$context/demoapp" ./cmd/demoapp)
	cp "$SCALER_ROOT/hack/images/demoapp/Dockerfile" "$context/Dockerfile"
	local hash
	hash=$(scaler::hash hack/build-images.sh hack/images/demoapp/Dockerfile .cache/images/demoapp/demoapp)
	if up_to_date "$image" "$hash"; then
		log "$image is up to date"
		return
	fi
	log "building $image"
	docker_build "$image" "$hash" "$context"
	log "built $image"
}

# build_scalerd: scalerd:dev, as demoapp:dev: the hash covers the two
# binaries, so the image changes only when scalerd's or scalectl's code does.
build_scalerd() {
	local image=scalerd:dev
	local context=$CACHE/scalerd
	mkdir -p "$context"
	(cd "$SCALER_ROOT" && CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false -ldflags='-s -w' \
		-o "$context/" ./cmd/scalerd ./cmd/scalectl)
	cp "$SCALER_ROOT/hack/images/scalerd/Dockerfile" "$context/Dockerfile"
	local hash
	hash=$(scaler::hash hack/build-images.sh hack/images/scalerd/Dockerfile .cache/images/scalerd/scalerd .cache/images/scalerd/scalectl)
	if up_to_date "$image" "$hash"; then
		log "$image is up to date"
		return
	fi
	log "building $image"
	docker_build "$image" "$hash" "$context"
	log "built $image"
}

# build_debian NAME: scaler-NAME:dev from its cached root fs tarball (made
# when missing) and hack/images/NAME (Dockerfile and the files it copies).
build_debian() {
	local name=$1
	local image=scaler-$name:dev
	local dir=hack/images/$name
	mkdir -p "$CACHE"

	# The root fs depends on the script that makes it, the suite and the
	# package list only: editing a Dockerfile or this script reuses it.
	local rootfs_hash
	rootfs_hash=$(printf '%s %s\n' "$SUITE" "$(scaler::hash hack/debian-rootfs.sh "$dir/packages.txt")" | sha256sum | cut -c1-16)
	local tarball=$CACHE/$name-rootfs-$rootfs_hash.tar
	local files
	files=$(cd "$SCALER_ROOT" && find "$dir" -type f | LC_ALL=C sort)
	local hash
	# shellcheck disable=SC2086 # file names under hack/images have no spaces
	hash=$(printf '%s %s\n' "$rootfs_hash" "$(scaler::hash hack/build-images.sh hack/lib.sh $files)" | sha256sum | cut -c1-64)
	if up_to_date "$image" "$hash"; then
		log "$image is up to date"
		return
	fi

	if [[ ! -f $tarball ]]; then
		rm -f "$CACHE/$name"-rootfs-*.tar # an outdated root fs
		"$SCALER_ROOT/hack/ensure-debootstrap.sh" # installs it as root, else says what to run
		SCALER_ELAPSED=$SECONDS "$SCALER_ROOT/hack/debian-rootfs.sh" "$SUITE" "$name" "$tarball"
	else
		log "reusing the $name root fs $(basename "$tarball")"
	fi
	log "building $image"
	local base
	base=$(docker import --message "debootstrap $SUITE minbase + $(grep -v '^#' "$SCALER_ROOT/$dir/packages.txt" | xargs)" "$tarball")
	docker_build "$image" "$hash" "$SCALER_ROOT/$dir" "BASE=$base"
	# The imported root fs lives on as the parent layer of the image; its id
	# is no longer needed (and an unused one, from a failed build, is removed).
	docker image rm "$base" >/dev/null 2>&1 || true
	log "built $image"
}

main() {
	scaler::require_docker
	mkdir -p "$CACHE"
	# One build at a time: two would share the root fs directory.
	exec 9>"$CACHE/.lock"
	flock 9

	local targets=("$@")
	[[ ${#targets[@]} -gt 0 ]] || targets=(demoapp nginx redis scalerd)
	local target
	for target in "${targets[@]}"; do
		case $target in
		demoapp) build_demoapp ;;
		scalerd) build_scalerd ;;
		nginx | redis) build_debian "$target" ;;
		*)
			echo "usage: hack/build-images.sh [demoapp|nginx|redis|scalerd ...]" >&2
			exit 2
			;;
		esac
	done
}

main "$@"
