#!/usr/bin/env bash
# Fails with a message that says what to fix when the Docker Engine cannot be
# reached; `make test` runs it before anything that needs Docker.
set -euo pipefail

SCALER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SCALER_ROOT
# shellcheck source=hack/lib.sh
source "$SCALER_ROOT/hack/lib.sh"

scaler::require_docker
echo "Docker Engine $(docker info --format '{{.ServerVersion}}') reachable"
