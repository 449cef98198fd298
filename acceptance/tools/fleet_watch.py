"""Watches what every replica runs, for acceptance/fleet.sh: polls each admin's /status every 20 ms and writes a
line whenever a replica's config revision or a cluster's destination set changes.

    fleet_watch.py --admins http://A:9901,http://B:9901 --out FILE

Each line of FILE: {"t": CLOCK_REALTIME ms, "replica": i, "revision": R, "clusters": {"reg": [names], ...}}, written
when the replica first answers and at each change, so a change made at time T was followed by replica i at the first
line after T that shows it (to within the 20 ms poll plus one /status answer). Runs until SIGTERM. Standard library only.
"""
import argparse
import json
import signal
import sys
import time
import urllib.request

stopping = False


def stop(*_):
    global stopping
    stopping = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--admins", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--interval-ms", type=float, default=20)
    a = p.parse_args()
    signal.signal(signal.SIGTERM, stop)
    admins = a.admins.split(",")
    last = [None] * len(admins)
    with open(a.out, "w", buffering=1) as out:
        while not stopping:
            for i, admin in enumerate(admins):
                try:
                    with urllib.request.urlopen(admin + "/status", timeout=2) as response:
                        s = json.load(response)
                except (OSError, ValueError):
                    continue
                seen = time.time() * 1000
                state = (s.get("configRevision"),
                         {name: sorted(c.get("destinations", {})) for name, c in sorted(s.get("clusters", {}).items())})
                if state != last[i]:
                    last[i] = state
                    out.write(json.dumps({"t": round(seen, 1), "replica": i, "revision": state[0], "clusters": state[1]}) + "\n")
            time.sleep(a.interval_ms / 1000)


main()
sys.exit(0)
