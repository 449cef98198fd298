"""CPU time taken by processes that are not the benchmark's: every process except ROOT (the harness's
shell) and its descendants (origin, proxies, load generators) and except kernel threads (children of
kthreadd, which on loopback mostly do the benchmark's own network work).

    foreign_cpu.py snap ROOT FILE     record a snapshot
    foreign_cpu.py diff ROOT FILE     print the foreign clock ticks since that snapshot

Counts utime + stime + cutime + cstime, so work of short-lived children (compilers under a build
server) is seen when they are reaped. A process that starts after the snapshot counts whole."""
import json
import os
import sys


def scan() -> dict:
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17, starttime field 22.
        procs[int(name)] = (int(fields[1]), int(fields[19]), sum(int(x) for x in fields[11:15]))
    return procs


def foreign(procs: dict, root: int) -> dict:
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    ours, todo = set(), [root, 2]
    while todo:
        pid = todo.pop()
        if pid not in ours:
            ours.add(pid)
            todo.extend(children.get(pid, []))
    return {str(pid): [start, ticks] for pid, (_, start, ticks) in procs.items() if pid not in ours}


def main() -> int:
    cmd, root, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    now = foreign(scan(), root)
    if cmd == "snap":
        with open(path, "w") as f:
            json.dump(now, f)
        return 0
    before = json.load(open(path))
    total = 0
    for pid, (start, ticks) in now.items():
        was = before.get(pid)
        total += ticks - was[1] if was and was[0] == start else ticks
    print(max(total, 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
