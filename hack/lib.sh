# shellcheck shell=bash
# Helpers shared by the hack/ scripts. Source it; it defines functions only.

# scaler::require_docker exits with a message that says what to fix when the
# Docker Engine cannot be reached, instead of letting the first docker call
# fail with a less obvious error halfway through a build or a test run.
scaler::require_docker() {
	local out
	if ! command -v docker >/dev/null 2>&1; then
		echo "scaler: the docker CLI is not installed (needed to reach the Docker Engine)" >&2
		exit 1
	fi
	if ! out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
		echo "scaler: cannot reach the Docker Engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}: is dockerd running? (docker info failed)" >&2
		printf '%s\n' "$out" | sed '/^[[:space:]]*$/d; s/^/  /' >&2
		exit 1
	fi
}

# scaler::apt_mirror SUITE prints the Debian mirror that apt on this machine
# uses for SUITE, read from its sources (deb822 *.sources first, then
# one-line *.list), so that no mirror host is written into the repository.
# SCALER_APT_MIRROR overrides it. A machine on another Debian release still
# has a usable mirror: the first entry of a Debian suite is taken then.
scaler::apt_mirror() {
	local suite=$1
	if [[ -n ${SCALER_APT_MIRROR:-} ]]; then
		printf '%s\n' "$SCALER_APT_MIRROR"
		return
	fi
	local etc=${SCALER_APT_ETC:-/etc/apt} # another root only for testing
	shopt -s nullglob
	local deb822=("$etc"/sources.list.d/*.sources)
	local lists=("$etc"/sources.list "$etc"/sources.list.d/*.list)
	shopt -u nullglob

	local mirror
	mirror=$(awk -v want="$suite" '
		function flush() {
			if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
				n = split(suites, s, " ")
				for (i = 1; i <= n; i++) {
					if (s[i] == want && exact == "") { split(uris, u, " "); exact = u[1] }
					if (s[i] ~ /^(bookworm|trixie|forky|bullseye|sid|stable|testing|unstable)$/ && any == "") { split(uris, u, " "); any = u[1] }
				}
			}
			types = ""; suites = ""; uris = ""; enabled = ""
		}
		FNR == 1 { flush() }
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		{
			key = tolower($1); sub(/:$/, "", key)
			val = $0; sub(/^[^:]*:[ \t]*/, "", val)
			if (key == "types") types = val
			else if (key == "suites") suites = val
			else if (key == "uris") uris = val
			else if (key == "enabled") enabled = tolower(val)
		}
		END { flush(); if (exact != "") print exact; else if (any != "") print any }
	' "${deb822[@]}" /dev/null)
	if [[ -z $mirror ]]; then
		mirror=$(awk -v want="$suite" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				uri = $i; s = $(i + 1)
				if (s == want && exact == "") exact = uri
				if (s ~ /^(bookworm|trixie|forky|bullseye|sid|stable|testing|unstable)$/ && any == "") any = uri
			}
			END { if (exact != "") print exact; else if (any != "") print any }
		' "${lists[@]}" /dev/null 2>/dev/null)
	fi
	if [[ -z $mirror ]]; then
		echo "scaler: found no Debian mirror for $suite in apt's sources (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list); set SCALER_APT_MIRROR" >&2
		return 1
	fi
	printf '%s\n' "$mirror"
}

# scaler::hash FILE... prints one sha256 over the files' paths (relative to
# the repository, so that every clone agrees) and contents.
scaler::hash() {
	(cd "$SCALER_ROOT" && sha256sum -- "$@") | sha256sum | cut -c1-64
}

# scaler::image_label IMAGE KEY prints the label's value, or nothing when the
# image or the label is missing.
scaler::image_label() {
	docker image inspect --format "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}
