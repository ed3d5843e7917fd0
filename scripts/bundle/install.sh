#!/bin/sh
# Install the Vellum bundle from this folder; never touches the network.
#
#   ./install.sh              as root: /opt/vellum, /usr/local/bin/vellum, the menu entry;
#                             as a user: ~/.local/opt/vellum, ~/.local/bin/vellum, your menu
#   ./install.sh --user       the per-user install, even as root
#   ./install.sh --prefix DIR the app in DIR (e.g. /srv/apps/vellum); links and menu as above
#   ./install.sh --uninstall  remove what an install with the same options put in place
#   --no-verify               skip the SHA256SUMS check (it needs sha256sum)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
user=0; prefix=""; uninstall=0; verify=1
[ "$(id -u)" = 0 ] || user=1
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user=1 ;;
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }; prefix=$2; shift ;;
    --uninstall) uninstall=1 ;;
    --no-verify) verify=0 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$user" = 1 ]; then
  data=${XDG_DATA_HOME:-$HOME/.local/share}
  app=${prefix:-$HOME/.local/opt/vellum}; bin=$HOME/.local/bin
  menu=$data/applications; icons=$data/icons/hicolor/scalable/apps
else
  app=${prefix:-/opt/vellum}; bin=/usr/local/bin
  menu=/usr/share/applications; icons=/usr/share/icons/hicolor/scalable/apps
fi

if [ "$uninstall" = 1 ]; then
  [ -L "$bin/vellum" ] && rm -f "$bin/vellum"
  rm -f "$menu/vellum.desktop" "$icons/vellum.svg"
  if [ -x "$app/vellum" ] && [ -d "$app/_internal" ]; then rm -rf "$app"; fi
  echo "Removed Vellum from $app (your projects and models are untouched)."
  exit 0
fi

if [ "$verify" = 1 ]; then
  if command -v sha256sum >/dev/null 2>&1; then
    (cd "$HERE" && sha256sum --quiet -c SHA256SUMS) || {
      echo "install.sh: the bundle does not match SHA256SUMS (damaged copy?); nothing installed." >&2; exit 1; }
  else
    echo "install.sh: sha256sum not found, SHA256SUMS not checked (--no-verify to silence)." >&2
  fi
fi

need=$(sed -n 's/^oldest glibc: *\([0-9.]*\).*/\1/p' "$HERE/BUNDLE.txt" 2>/dev/null | head -n 1)
have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
if [ -n "$need" ] && [ -n "$have" ]; then
  lowest=$(printf '%s\n%s\n' "$need" "$have" | sort -t. -k1,1n -k2,2n | head -n 1)
  if [ "$lowest" != "$need" ]; then
    echo "install.sh: this bundle needs glibc $need or newer; this system has $have. Use the wheelhouse install (README, Offline install) or a newer system." >&2
    exit 1
  fi
fi

mkdir -p "$(dirname "$app")" "$bin" "$menu" "$icons"
rm -rf "$app.new"
cp -R "$HERE/vellum" "$app.new"
if [ -e "$app" ]; then rm -rf "$app.old"; mv "$app" "$app.old"; fi
mv "$app.new" "$app"
rm -rf "$app.old"
ln -sf "$app/vellum" "$bin/vellum"
sed "s|@EXEC@|$app/vellum|" "$HERE/vellum.desktop" > "$menu/vellum.desktop"
cp "$HERE/vellum.svg" "$icons/vellum.svg"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$menu" 2>/dev/null || true
"$app/vellum" --version >/dev/null
echo "Installed Vellum in $app; run 'vellum' ($bin/vellum) or pick Vellum in the applications menu."
case ":$PATH:" in *":$bin:"*) ;; *) echo "Note: $bin is not on your PATH." ;; esac
