#!/usr/bin/env bash
# Installs a software Vulkan adapter (Mesa 25 lavapipe) that Dawn, and so `@shadowkv/kernels-webgpu`
# in Node, accepts on a CPU-only Debian 12 machine. Idempotent: a fast no-op once installed.
#
# What it does, and why:
#   * `libvulkan1` (the Vulkan loader) and the runtime libraries lavapipe links against come from the
#     machine's normal apt sources. Debian 12's own lavapipe (Mesa 22) is rejected by Dawn, so it is not used.
#   * Mesa 25's lavapipe and the newer libdrm it declares come from `bookworm-backports` through an
#     apt-get run with its OWN sources list and state folders: the system's apt setup is left untouched.
#     The mirror is the one this machine is already configured with (read from /etc/apt).
#   * The debs are unpacked with `dpkg-deb -x` into a private folder; libvulkan_lvp.so gets
#     RUNPATH=$ORIGIN (patchelf) so its private libdrm resolves without LD_LIBRARY_PATH, and an ICD json
#     with the absolute library path is written next to it.
#   * The Node loader of @shadowkv/kernels-webgpu points VK_ICD_FILENAMES / VK_DRIVER_FILES at that json
#     before creating the Dawn instance, when the folder exists and the user has not set them.
#
# Install folder: $SHADOWKV_LAVAPIPE_DIR if set; else /opt/shadowkv-lavapipe when run as root (or with
# sudo available); else .vendor/webgpu/ in this repository (git-ignored).
#
# Usage: bash scripts/setup-webgpu.sh [--force]
set -euo pipefail

MESA_MIN_MAJOR=24   # Dawn's Vulkan backend accepts lavapipe from Mesa 24 on; Mesa 22 is rejected.
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="none"; fi

if [ -n "${SHADOWKV_LAVAPIPE_DIR:-}" ]; then
  DEST="$SHADOWKV_LAVAPIPE_DIR"
elif [ "$SUDO" != "none" ]; then
  DEST="/opt/shadowkv-lavapipe"
else
  DEST="$REPO_ROOT/.vendor/webgpu"
fi
ICD="$DEST/lvp_icd.json"
LIB="$DEST/lib/libvulkan_lvp.so"
MARKER="$DEST/installed.txt"

log() { echo "setup-webgpu: $*"; }
die() { echo "setup-webgpu: error: $*" >&2; exit 1; }
as_root() { if [ -z "$SUDO" ]; then "$@"; else $SUDO "$@"; fi; }

# ---- fast path -------------------------------------------------------------------------------------
# (Command output goes through variables, not `| grep -q`: with pipefail, grep closing the pipe early
# makes the producer die of SIGPIPE and the test fail.)
VULKAN_STATUS="$(dpkg-query -W -f='${Status}' libvulkan1 2>/dev/null || true)"
if [ "$FORCE" = 0 ] && [ -f "$MARKER" ] && [ -f "$ICD" ] && [ -f "$LIB" ] && [ "$VULKAN_STATUS" = "install ok installed" ]; then
  log "lavapipe already installed in $DEST ($(head -n1 "$MARKER")); nothing to do"
  exit 0
fi

# ---- checks ----------------------------------------------------------------------------------------
[ -r /etc/os-release ] || die "cannot read /etc/os-release; this script supports Debian 12 (bookworm) only"
. /etc/os-release
[ "${ID:-}" = "debian" ] || die "this script supports Debian 12 only (found ID=${ID:-?}); install Mesa >= $MESA_MIN_MAJOR lavapipe (mesa-vulkan-drivers) with your package manager instead"
CODENAME="${VERSION_CODENAME:-}"
[ "$(dpkg --print-architecture)" = "amd64" ] || die "only amd64 is supported (found $(dpkg --print-architecture))"
[ "$SUDO" != "none" ] || die "installing libvulkan1 needs root: run as root or install sudo"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

# ---- the machine's configured Debian mirror ----------------------------------------------------------
# Prints "URI<TAB>SIGNED_BY" of the first non-security deb source whose suites include $CODENAME.
find_mirror() {
  local f line
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    line="$(awk -v suite="$CODENAME" '
      function flush() {
        if (!found && types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris !~ /security/ && uris != "") {
          split(uris, u, " "); print u[1] "\t" signed; found = 1
        }
        types = ""; uris = ""; suites = ""; signed = ""
      }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      {
        key = $1; sub(/:$/, "", key); val = $0; sub(/^[^:]*:[[:space:]]*/, "", val)
        if (key == "Types") types = val; else if (key == "URIs") uris = val
        else if (key == "Suites") suites = val; else if (key == "Signed-By") signed = val
      }
      END { flush() }
    ' "$f")"
    if [ -n "$line" ]; then echo "$line"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # One-line format: deb [options] URI suite components...
    line="$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v suite="$CODENAME" '
      !found && $1 == "deb" && $3 == suite && $2 !~ /security/ { print $2 "\t"; found = 1 }')"
    if [ -n "$line" ]; then echo "$line"; return; fi
  done
}
MIRROR_LINE="$(find_mirror)"
MIRROR="${MIRROR_LINE%%$'\t'*}"
SIGNED_BY="${MIRROR_LINE#*$'\t'}"
[ -n "$MIRROR" ] || die "no Debian '$CODENAME' source found in /etc/apt/sources.list or /etc/apt/sources.list.d; add the Debian mirror this machine should use"
# Signed-By may be empty or an inline key block; then use Debian's archive keyring.
[ -f "$SIGNED_BY" ] || SIGNED_BY=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$SIGNED_BY" ] || die "no keyring to verify $MIRROR: $SIGNED_BY is missing (apt-get install debian-archive-keyring)"
log "using this machine's Debian mirror $MIRROR"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/parts" "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs"
BP_SUITE="$CODENAME-backports"
cat > "$WORK/parts/backports.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $BP_SUITE
Components: main
Signed-By: $SIGNED_BY
EOF
# Own sources list, lists and cache: nothing under /etc/apt or /var/lib/apt changes.
BP_APT=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$WORK/parts"
  -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o APT::Sandbox::User=root)

# ---- Mesa >= 24 lavapipe from backports --------------------------------------------------------------
log "fetching the $BP_SUITE package index"
apt-get "${BP_APT[@]}" -qq update
for pkg in mesa-vulkan-drivers libdrm2 libdrm-amdgpu1; do
  (cd "$WORK/debs" && apt-get "${BP_APT[@]}" -qq download "$pkg/$BP_SUITE") \
    || die "could not download $pkg from $BP_SUITE at $MIRROR"
done
MESA_DEB="$(ls "$WORK"/debs/mesa-vulkan-drivers_*.deb)"
MESA_VERSION="$(dpkg-deb -f "$MESA_DEB" Version)"
MESA_UPSTREAM="${MESA_VERSION#*:}" # drop an epoch
[ "${MESA_UPSTREAM%%.*}" -ge "$MESA_MIN_MAJOR" ] || die "$BP_SUITE has mesa-vulkan-drivers $MESA_VERSION, need >= $MESA_MIN_MAJOR"

# ---- libvulkan1 and lavapipe's runtime dependencies from the normal sources --------------------------
# Everything mesa-vulkan-drivers depends on except libdrm (whose newer version rides along privately)
# and libvulkan1 (named explicitly).
STOCK_DEPS="$(dpkg-deb -f "$MESA_DEB" Depends | tr ',' '\n' | sed -e 's/([^)]*)//g' -e 's/|.*//' -e 's/[[:space:]]//g' \
  | grep -v -E '^(libdrm.*|libvulkan1|)$' | sort -u | tr '\n' ' ')"
export DEBIAN_FRONTEND=noninteractive
POLICY="$(apt-cache policy libvulkan1 2>/dev/null || true)"
if [[ "$POLICY" != *"Candidate: "[0-9]* ]]; then
  log "apt package lists are empty; running apt-get update"
  as_root apt-get -qq update
fi
log "installing from the normal apt sources: libvulkan1 patchelf $STOCK_DEPS"
# shellcheck disable=SC2086
as_root apt-get install -y -qq --no-install-recommends libvulkan1 patchelf $STOCK_DEPS >/dev/null

# ---- unpack privately, fix the library search path, write the ICD ---------------------------------
as_root mkdir -p "$DEST"
as_root rm -rf "$DEST/lib" "$DEST/root"
as_root mkdir -p "$DEST/lib" "$DEST/root"
for deb in "$WORK"/debs/*.deb; do as_root dpkg-deb -x "$deb" "$DEST/root"; done
MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
SRC="$DEST/root/usr/lib/$MULTIARCH"
as_root cp -a "$SRC/libvulkan_lvp.so" "$SRC"/libdrm.so.2* "$SRC"/libdrm_amdgpu.so.1* "$DEST/lib/"
as_root rm -rf "$DEST/root"
# $ORIGIN: lavapipe finds the backported libdrm beside itself; LD_LIBRARY_PATH is not needed.
as_root patchelf --set-rpath '$ORIGIN' "$LIB"
API_VERSION="$(sed -n 's/.*"api_version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' \
  <(dpkg-deb --fsys-tarfile "$MESA_DEB" | tar -xO ./usr/share/vulkan/icd.d/lvp_icd.json) | head -n1)"
as_root tee "$ICD" >/dev/null <<EOF
{
    "file_format_version": "1.0.0",
    "ICD": {
        "library_path": "$LIB",
        "api_version": "${API_VERSION:-1.3.0}"
    }
}
EOF

# ---- verify ------------------------------------------------------------------------------------------
LDD="$(ldd "$LIB")"
[[ "$LDD" != *"not found"* ]] || die "libvulkan_lvp.so has unresolved libraries: $(grep 'not found' <<<"$LDD")"
[[ "$LDD" == *"libdrm.so.2 => $DEST/lib/"* ]] || die "libvulkan_lvp.so does not pick up the private libdrm in $DEST/lib"
echo "mesa-vulkan-drivers $MESA_VERSION from $BP_SUITE" | as_root tee "$MARKER" >/dev/null
log "installed lavapipe (Mesa $MESA_VERSION) in $DEST; @shadowkv/kernels-webgpu finds $ICD automatically"
