#!/usr/bin/env bash
# Builds qvt the way its Docker image and its releases carry it: static
# (CGO_ENABLED=0: the SQLite engine is pure Go, so the binary runs on a
# scratch or distroless image), without this machine's paths (-trimpath),
# with the time zone database inside (timetzdata: schedule.timezone works
# where the system has none, as on Windows), stripped, and stamped with
# its version, commit and build date for qvt version.
#
#   deploy/build.sh [OUTPUT]   build ./cmd/qvt into OUTPUT (default ./qvt, ./qvt.exe for GOOS=windows)
#   deploy/build.sh --stamp    print what it would stamp, as shell assignments
#
# GOOS and GOARCH choose the target. QVT_VERSION, QVT_COMMIT and
# QVT_BUILD_DATE (YYYY-MM-DD) replace what git and the clock say: a
# Docker build context has no .git, so the Dockerfile takes them as build
# arguments. Without git and without QVT_COMMIT the build stops: every
# binary names its commit.
set -euo pipefail
cd "$(dirname "$0")/.."

commit=${QVT_COMMIT:-}
if [ -z "$commit" ]; then
  if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
    commit=$(git rev-parse HEAD)
    # Uncommitted changes to tracked files: the binary is not that commit.
    if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
      commit="$commit+dirty"
    fi
  else
    echo "deploy/build.sh: no git repository here to name the commit; set QVT_COMMIT" \
      "(docker build --build-arg QVT_COMMIT=\$(git rev-parse HEAD) .)" >&2
    exit 1
  fi
fi
if ! [[ $commit =~ ^[0-9a-f]{7,40}(\+dirty)?$ ]]; then
  echo "deploy/build.sh: QVT_COMMIT=$commit: want a git commit hash (7 to 40 hex digits, optionally +dirty)" >&2
  exit 1
fi

version=${QVT_VERSION:-}
if [ -z "$version" ]; then
  version=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) || version=devel
fi
if ! [[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
  echo "deploy/build.sh: QVT_VERSION=$version: want a version such as v1.2.3 (letters, digits, . _ + -)" >&2
  exit 1
fi

date=${QVT_BUILD_DATE:-$(date -u +%Y-%m-%d)}
if ! [[ $date =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
  echo "deploy/build.sh: QVT_BUILD_DATE=$date: want YYYY-MM-DD" >&2
  exit 1
fi

if [ "${1:-}" = "--stamp" ]; then
  printf 'QVT_VERSION=%q QVT_COMMIT=%q QVT_BUILD_DATE=%q\n' "$version" "$commit" "$date"
  exit 0
fi

goos=${GOOS:-$(go env GOOS)}
out=${1:-qvt}
if [ $# -eq 0 ] && [ "$goos" = windows ]; then
  out=qvt.exe
fi

pkg=qvt/internal/version
# -buildvcs=false: the stamp above names the commit, so the binary is the
# same whether or not the toolchain can read .git (a Docker context, a
# source archive, a checkout owned by another user).
CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags timetzdata \
  -ldflags "-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date" \
  -o "$out" ./cmd/qvt
