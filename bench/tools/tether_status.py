"""Sums Tether's per-destination pool counters (pool.created / pool.reused) from its admin
GET /status JSON and prints one line for the report; prints nothing if they are not there."""
import json
import sys


def walk(node, acc: dict) -> None:
    if isinstance(node, dict):
        pool = node.get("pool")
        if isinstance(pool, dict) and isinstance(pool.get("created"), int) and isinstance(pool.get("reused"), int):
            acc["created"] += pool["created"]
            acc["reused"] += pool["reused"]
            return
        for v in node.values():
            walk(v, acc)
    elif isinstance(node, list):
        for v in node:
            walk(v, acc)


def main() -> int:
    try:
        doc = json.load(open(sys.argv[1]))
    except (OSError, ValueError):
        return 0
    acc = {"created": 0, "reused": 0}
    walk(doc, acc)
    total = acc["created"] + acc["reused"]
    if total:
        print(f"{acc['created']:,} connections created, {acc['reused']:,} reuses "
              f"({100 * acc['reused'] / total:.3f}% of upstream requests on a reused connection)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
