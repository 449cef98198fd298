#!/usr/bin/env bash
# Builds what docs/operations.md and the README install from:
#   dist/tether-linux-x64        one self-contained file: runs with no .NET installed
#   dist/tether_VERSION_amd64.deb   that file as /usr/bin/tether, a systemd unit (Type=notify), /etc/tether/tether.json
#                                 as a conffile, a `tether` system user made by postinst
# Needs the .NET SDK (the runtime packs come from NuGet on the first run) and dpkg-deb.
# Usage: packaging/build.sh [--no-deb]
set -euo pipefail
cd "$(dirname "$0")/.."

deb=1
for arg in "$@"; do
  case "$arg" in
    --no-deb) deb=0 ;;
    *) echo "usage: packaging/build.sh [--no-deb]" >&2; exit 2 ;;
  esac
done

rid=linux-x64
out=dist
publish="$out/publish-$rid"
rm -rf "$publish"
mkdir -p "$out"

# Self-contained single file: the runtime and ASP.NET Core inside, native libraries (none today beyond the
# host) extracted on first run if any appear. Not trimmed: ASP.NET Core is not trim-safe. No .pdb beside it.
start=$(date +%s)
dotnet publish src/Tether -c Release -r "$rid" --self-contained true -nologo -v q \
  -p:PublishSingleFile=true \
  -p:IncludeNativeLibrariesForSelfExtract=true \
  -p:DebugType=none \
  -p:GenerateDocumentationFile=false \
  -o "$publish"
cp "$publish/tether" "$out/tether-$rid"
rm -rf "$publish"
echo "packaging: $out/tether-$rid ($(du -h "$out/tether-$rid" | cut -f1), published in $(( $(date +%s) - start ))s)"

[ "$deb" -eq 1 ] || exit 0

# The version is the one `tether --version` prints, without any +commit suffix.
version=$("$out/tether-$rid" --version | sed -e 's/^tether //' -e 's/+.*//')
root=$(mktemp -d)
chmod 0755 "$root"  # mktemp makes it 0700; it becomes / in the package
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$out/tether-$rid" "$root/usr/bin/tether"
install -D -m 0644 packaging/deb/tether.service "$root/lib/systemd/system/tether.service"
install -D -m 0644 packaging/deb/tether.json "$root/etc/tether/tether.json"
install -D -m 0644 LICENSE "$root/usr/share/doc/tether/copyright"
install -d "$root/DEBIAN"
sed -e "s/@VERSION@/$version/" \
    -e "s/@SIZE@/$(du -sk --exclude=DEBIAN "$root" | cut -f1)/" packaging/deb/control > "$root/DEBIAN/control"
install -m 0644 packaging/deb/conffiles "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/deb/$script" "$root/DEBIAN/$script"
done
package="$out/tether_${version}_amd64.deb"
# gzip, not dpkg-deb's default xz: xz took over a minute of CPU on this 100 MB binary (CI builds it on every run);
# every dpkg reads gzip.
dpkg-deb --root-owner-group -Zgzip --build "$root" "$package" >/dev/null
echo "packaging: $package ($(du -h "$package" | cut -f1))"
