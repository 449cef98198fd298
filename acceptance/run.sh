#!/usr/bin/env bash
# Runs every acceptance script against one Release build of Tether. --short: the CI form (about two
# minutes once built); without it, the full form described in docs/security.md.
# Usage: acceptance/run.sh [--short]
set -uo pipefail
cd "$(dirname "$0")/.."
# TETHER_BIN set to an executable: use that build (e.g. one published under `nice`, so that the scripts run at
# normal priority but the build does not); otherwise publish one here.
if [ -n "${TETHER_BIN:-}" ] && [ -x "$TETHER_BIN" ]; then
  echo "using TETHER_BIN=$TETHER_BIN"
else
  build="$(mktemp -d /tmp/tether-acceptance-build.XXXXXX)"
  trap 'rm -rf "$build"' EXIT
  echo "building: dotnet publish src/Tether -c Release"
  dotnet publish src/Tether -c Release -o "$build" --nologo -v quiet >"$build.log" 2>&1 || { cat "$build.log"; exit 1; }
  rm -f "$build.log"
  export TETHER_BIN="$build/tether"
fi

status=0
start=$SECONDS
for script in smuggling per-ip-limit proxy-protocol slowloris drain reload h2-attacks observability fleet; do
  echo "== $script"
  rc=0
  # 600 s: the full slowloris.sh (five rounds of three attacks) takes about 400 s on a busy machine.
  timeout 600 "acceptance/$script.sh" "$@" || rc=$?
  if [ "$rc" != 0 ]; then
    # Say which script failed and how, even when it died before printing a FAIL line of its own.
    echo "FAIL  acceptance/$script.sh exited with status $rc"
    status=1
  fi
done
echo "== acceptance: $([ $status = 0 ] && echo PASS || echo FAIL) in $((SECONDS - start)) s (build not counted)"
exit $status
