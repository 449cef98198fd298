#!/usr/bin/env bash
# Checks what packaging/build.sh made (CI runs it after the build):
#  1. dist/tether-linux-x64 --version runs with no .NET at all: an environment with no dotnet on PATH and no
#     DOTNET_ROOT, and, where a mount namespace can be had (root), with the SDK's folder hidden too.
#  2. the .deb: dpkg-deb --info and --contents, and that it holds the binary, the unit and the conffile.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=dist/tether-linux-x64
[ -x "$binary" ] || { echo "check: $binary missing; run packaging/build.sh" >&2; exit 1; }

# PATH is an empty folder: no dotnet can be found, and env -i leaves no DOTNET_ROOT or DOTNET_* behind.
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
if env -i PATH="$empty" /bin/sh -c 'command -v dotnet' >/dev/null 2>&1; then
  echo "check: dotnet is still on PATH" >&2; exit 1
fi
version=$(env -i PATH="$empty" "$binary" --version)
echo "check: $binary --version with no dotnet on PATH, no DOTNET_ROOT: $version"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || { echo "check: unexpected version output '$version'" >&2; exit 1; }

# A self-contained app never looks for an installed runtime; prove it by hiding the installed one.
sdk=$(dirname "$(readlink -f "$(command -v dotnet)")" 2>/dev/null || true)
if [ -n "$sdk" ] && [ -d "$sdk" ] && unshare -m true 2>/dev/null; then
  hidden=$(unshare -m /bin/sh -c "mount -t tmpfs none '$sdk' && env -i PATH='$empty' '$binary' --version")
  echo "check: with $sdk hidden as well: $hidden"
  [ "$hidden" = "$version" ] || { echo "check: differs with the SDK hidden" >&2; exit 1; }
else
  echo "check: no mount namespace here; the empty PATH and env -i are the check"
fi

deb=$(ls -t dist/tether_*_amd64.deb | head -n 1)
dpkg-deb --info "$deb"
contents=$(dpkg-deb --contents "$deb")
echo "$contents"
for path in ./usr/bin/tether ./lib/systemd/system/tether.service ./etc/tether/tether.json ./usr/share/doc/tether/copyright; do
  grep -q " $path\$" <<<"$contents" || { echo "check: $deb lacks $path" >&2; exit 1; }
done
dpkg-deb --info "$deb" conffiles | grep -qx /etc/tether/tether.json || { echo "check: /etc/tether/tether.json is not a conffile" >&2; exit 1; }
dpkg-deb --info "$deb" control | grep -q '^Package: tether$'
# The packaged default config is one tether itself accepts.
extract=$(mktemp -d)
dpkg-deb --extract "$deb" "$extract"
env -i PATH="$empty" "$extract/usr/bin/tether" check --config "$extract/etc/tether/tether.json"
grep -q '^Type=notify$' "$extract/lib/systemd/system/tether.service"
rm -rf "$extract"
echo "check: $deb OK"
