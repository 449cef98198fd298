"""Sums Tether's per-destination pool counters (pool.created / pool.reused, and for HTTP/2 destinations
http2.created / http2.streams) from its admin GET /status JSON and prints one line for the report; prints
nothing if they are not there."""
import json
import sys


def walk(node, acc: dict) -> None:
    if isinstance(node, dict):
        pool = node.get("pool")
        if isinstance(pool, dict) and isinstance(pool.get("created"), int) and isinstance(pool.get("reused"), int):
            acc["created"] += pool["created"]
            acc["reused"] += pool["reused"]
            h2 = node.get("http2")
            if isinstance(h2, dict) and isinstance(h2.get("created"), int) and isinstance(h2.get("streams"), int):
                acc["h2_created"] += h2["created"]
                acc["h2_streams"] += h2["streams"]
                acc["h2"] = True
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
    acc = {"created": 0, "reused": 0, "h2_created": 0, "h2_streams": 0, "h2": False}
    walk(doc, acc)
    total = acc["created"] + acc["reused"]
    if acc["h2"]:
        print(f"{acc['h2_created']:,} HTTP/2 connections created for {acc['h2_streams']:,} streams")
    elif total:
        print(f"{acc['created']:,} connections created, {acc['reused']:,} reuses "
              f"({100 * acc['reused'] / total:.3f}% of upstream requests on a reused connection)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
