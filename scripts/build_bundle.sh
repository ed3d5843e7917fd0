#!/usr/bin/env bash
# Build the self-contained Vellum bundle: vellum-<version>-linux-x86_64[-gpu].tar.gz holding
# the one-folder app (PyInstaller, build_installer.spec), install.sh (to /opt or ~/.local, no
# network), a .desktop file and icon, licences of every bundled library and model pack,
# BUNDLE.txt (variant, oldest glibc it runs on, sizes) and SHA256SUMS.
#
#   bash scripts/build_bundle.sh [--variant cpu|gpu] [--out DIR] [--work DIR] [--python PY]
#                                [--wheelhouse DIR] [--constraint FILE] [--no-test]
#
#   --variant cpu   (default) plain onnxruntime: models run on the CPU; ~0.6 GB unpacked
#   --variant gpu   onnxruntime-gpu with the CUDA/cuDNN runtime wheels (nvidia-*): needs only
#                   the NVIDIA driver on the target; ~3 GB unpacked
#   --out DIR       where the .tar.gz goes (default: /tmp/vellum-bundle)
#   --work DIR      build environment and PyInstaller work folders (default: /tmp/vellum-bundle/work)
#   --python PY     the CPython to freeze (needs its shared libpython; default python3). The
#                   bundle runs on glibc no older than the newest one this Python, its wheels
#                   and the build system's libraries need: build on the oldest system you
#                   support (BUNDLE.txt states the measured figure).
#   --wheelhouse D  install from this wheelhouse (scripts/make_wheelhouse.py) without network
#   --constraint F  pip constraints for the build environment, e.g. PySide6-Essentials==6.9.3
#                   (the newest manylinux_2_28 Qt) for a bundle that runs on glibc 2.28
#   --no-test       skip the check of the built app (vellum --version, models doctor and a
#                   headless project/add/export, all inside `unshare -n` where allowed)
#
# Needs: a connected machine (or --wheelhouse), bash, tar, sha256sum, objdump (binutils).
# Nothing is written into the source tree. Windows: see README ("Offline install").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
variant=cpu; out=/tmp/vellum-bundle; work=""; python=python3; wheelhouse=""; test=1
constraint=()
while [ $# -gt 0 ]; do
  case "$1" in
    --variant) variant=$2; shift ;;
    --out) out=$2; shift ;;
    --work) work=$2; shift ;;
    --python) python=$2; shift ;;
    --wheelhouse) wheelhouse=$2; shift ;;
    --constraint) constraint=(--constraint "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift ;;
    --no-test) test=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "build_bundle.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$variant" in cpu|gpu) ;; *) echo "build_bundle.sh: --variant cpu or gpu" >&2; exit 2 ;; esac
mkdir -p "$out"; out=$(cd "$out" && pwd)
work=${work:-$out/work}; mkdir -p "$work"; work=$(cd "$work" && pwd)
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "build environment ($variant) in $work/venv-$variant"
venv=$work/venv-$variant
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
py=$venv/bin/python
"$py" -c 'import sysconfig, sys; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else
  "this Python has no shared libpython, which PyInstaller needs: use another --python")'
pipi=("$py" -m pip install -q --disable-pip-version-check "${constraint[@]}")
if [ -n "$wheelhouse" ]; then
  pipi+=(--no-index --find-links "$wheelhouse")
else
  # Vellum's wheel (from a clean copy of the source) and its dependencies
  wheelhouse=$work/wheelhouse-$variant
  gpu=(); [ "$variant" = gpu ] && gpu=(--gpu)
  "$py" "$ROOT/scripts/make_wheelhouse.py" --quiet --out "$wheelhouse" "${gpu[@]}" "${constraint[@]}"
  pipi+=(--find-links "$wheelhouse")
fi
"${pipi[@]}" --upgrade --force-reinstall --no-deps "$wheelhouse"/vellum-*.whl
"${pipi[@]}" vellum
ort_version=$("$py" -c 'from importlib.metadata import version; print(version("onnxruntime-gpu"))' 2>/dev/null \
  || "$py" -c 'from importlib.metadata import version; print(version("onnxruntime"))')
# Both wheels install the same onnxruntime/ folder: remove both, then install the one wanted
# afresh (an uninstall of the other would leave its metadata without files).
"$py" -m pip uninstall -q -y onnxruntime onnxruntime-gpu
if [ "$variant" = cpu ]; then
  # the CPU wheel of the same release: 24 MB instead of 300, and no CUDA provider that cannot
  # load; its metadata names it, so `models doctor` reports the runtime truthfully
  "${pipi[@]}" --force-reinstall "onnxruntime==$ort_version"
else
  "${pipi[@]}" --force-reinstall "onnxruntime-gpu[cuda,cudnn]==$ort_version"
fi
"$py" -c 'import onnxruntime, sys; print("onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())'
"${pipi[@]}" "pyinstaller>=6.10"
version=$("$py" -c 'from importlib.metadata import version; print(version("vellum"))')
arch=$(uname -m)
name=vellum-$version-linux-$arch$([ "$variant" = gpu ] && echo -gpu || true)

step "PyInstaller ($name)"
rm -rf "$work/dist-$variant" "$work/pyi-$variant"
(cd "$work" && VELLUM_BUNDLE_VARIANT=$variant "$venv/bin/pyinstaller" --noconfirm --log-level WARN \
  --distpath "$work/dist-$variant" --workpath "$work/pyi-$variant" "$ROOT/build_installer.spec")
app=$work/dist-$variant/vellum

step "licences, install files, BUNDLE.txt"
"$py" "$ROOT/scripts/bundle/collect_licenses.py" "$app"
stage=$work/stage-$variant/$name
rm -rf "$work/stage-$variant"; mkdir -p "$stage"
mv "$app" "$stage/vellum"
cp "$ROOT/scripts/bundle/install.sh" "$ROOT/scripts/bundle/vellum.desktop" \
   "$ROOT/scripts/bundle/vellum.svg" "$stage/"
cp "$ROOT/LICENSE" "$stage/LICENSE"
# the oldest glibc: the newest GLIBC_x.y symbol version any bundled binary asks for
glibc_needs() {  # "<version> <file>" for every ELF file under $1
  find "$1" -type f \( -name '*.so*' -o -perm -u+x \) -print0 | while IFS= read -r -d '' f; do
    v=$(objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1 || true)
    [ -n "$v" ] && echo "$v ${f#"$1"/}"
  done | sort -V || true
}
needs=$(glibc_needs "$stage/vellum")
glibc=$(echo "$needs" | tail -n 1 | cut -d' ' -f1)
needs_most=$(echo "$needs" | awk -v g="$glibc" '$1 == g {print $2}' | head -n 5 | tr '\n' ' ')
size=$(du -sb "$stage/vellum" | cut -f1)
cat > "$stage/BUNDLE.txt" <<EOF
Vellum $version, $variant variant, Linux $arch, one-folder app (PyInstaller).
oldest glibc: $glibc (newest symbol version the bundled binaries need; from: $needs_most)
built on: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") with glibc $(getconf GNU_LIBC_VERSION | awk '{print $2}'), Python $("$py" -c 'import platform; print(platform.python_version())')
onnxruntime: $([ "$variant" = gpu ] && echo "onnxruntime-gpu $ort_version with the CUDA/cuDNN runtime wheels; the target needs the NVIDIA driver (libcuda.so.1) only" || echo "onnxruntime $ort_version (CPU)")
unpacked size: $((size / 1000000)) MB
Install: ./install.sh (root: /opt/vellum; user: ~/.local/opt/vellum); check: vellum models doctor
EOF
(cd "$stage" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)

if [ "$test" = 1 ]; then
  step "check the built app offline"
  bash "$ROOT/scripts/check_offline.sh" "$stage/vellum/vellum"
fi

step "pack $out/$name.tar.gz"
tar -C "$work/stage-$variant" -czf "$out/$name.tar.gz.part" "$name"
mv "$out/$name.tar.gz.part" "$out/$name.tar.gz"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
cat "$stage/BUNDLE.txt"
echo "bundle: $out/$name.tar.gz ($(du -m "$out/$name.tar.gz" | cut -f1) MB packed)"
step "done"
