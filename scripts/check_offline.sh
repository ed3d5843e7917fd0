#!/usr/bin/env bash
# Check an installed or bundled Vellum with no network at all:
#
#   bash scripts/check_offline.sh PATH/TO/vellum
#
# Inside `unshare -n` (a network namespace without interfaces; the reason is printed and the
# checks run as they are where that is not allowed): vellum --version; vellum self-test --quick
# when this Vellum has it; vellum models doctor (must exit 0 and find onnxruntime); and a
# headless project: new, add a generated PNG, export COCO, validate. Exit 0 when all pass.
# User data (models folder, logs) goes to a temporary folder, never to your own.
set -euo pipefail
usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
[ $# -eq 1 ] || { usage >&2; exit 2; }
vellum=$1
[ -x "$vellum" ] || { echo "check_offline.sh: $vellum is not an executable" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export QT_QPA_PLATFORM=offscreen XDG_DATA_HOME=$tmp/data XDG_CACHE_HOME=$tmp/cache \
  XDG_CONFIG_HOME=$tmp/config VELLUM_AUTHOR=check
unset PYTHONPATH PYTHONHOME
net=()
if unshare -n true 2>/dev/null; then
  net=(unshare -n)
  echo "network: none (unshare -n)"
else
  echo "network: unshare -n is not allowed here ($(unshare -n true 2>&1 | head -n 1)); checks run with the network as it is"
fi
run() { echo "+ vellum ${*}"; (cd "$tmp" && "${net[@]}" "$vellum" "$@"); }
t0=$SECONDS
run --version
if "$vellum" self-test --help >/dev/null 2>&1; then
  run self-test --quick
fi
doctor=$(cd "$tmp" && "${net[@]}" "$vellum" models doctor 2>&1) || {
  echo "$doctor"; echo "check_offline.sh: models doctor failed" >&2; exit 1; }
echo "$doctor" | sed -n '1,6p'
if echo "$doctor" | grep -q "onnxruntime: not installed"; then
  echo "check_offline.sh: the AI runtime is missing" >&2; exit 1
fi
echo 'iVBORw0KGgoAAAANSUhEUgAAAEAAAAAwCAIAAAAuKetIAAAAR0lEQVRo3u3PgQkAMAgDsA7d/y9vVwhCIA/kJKn0Xl33BxYTEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQmPMAq2Umov+8cRoAAAAASUVORK5CYII=' \
  | base64 -d > "$tmp/photo.png"
run new "$tmp/project"
run add "$tmp/project" "$tmp/photo.png"
run export coco "$tmp/project" "$tmp/out/coco.json"
grep -q '"photo.png"' "$tmp/out/coco.json" || { echo "check_offline.sh: the export lacks the image" >&2; exit 1; }
run validate "$tmp/project"
echo "offline check passed ($((SECONDS - t0)) s)"
