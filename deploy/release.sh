#!/usr/bin/env bash
# Release builds: qvt for Linux, macOS and Windows on amd64 and arm64,
# each made by deploy/build.sh, into dist/ as qvt_<version>_<os>_<arch>
# (.exe for Windows), with dist/sha256sums.txt (sha256sum -c checks it).
#
#   deploy/release.sh           version from git describe (a v* tag), else "devel"
#   QVT_VERSION=v1.2.3 deploy/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# One stamp for all six binaries: the same version, commit and date.
eval "$(deploy/build.sh --stamp)"
export QVT_VERSION QVT_COMMIT QVT_BUILD_DATE

rm -rf dist
mkdir -p dist
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  os=${target%/*} arch=${target#*/}
  name=qvt_${QVT_VERSION}_${os}_${arch}
  if [ "$os" = windows ]; then name=$name.exe; fi
  echo "building dist/$name"
  GOOS=$os GOARCH=$arch deploy/build.sh "dist/$name"
done
(cd dist && sha256sum qvt_* >sha256sums.txt)
echo "qvt $QVT_VERSION (commit $QVT_COMMIT): $(ls dist | wc -l) files in dist/"
