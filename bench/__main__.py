"""Run every registered benchmark and print one JSON document to stdout.

Each benchmark measures its own reference figure in the same run (a bare smtplib loop,
a minimal Flask view, ...), so the ratios hold on a noisy machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from collections.abc import Callable
from typing import Any

import bench


def discover() -> dict[str, Callable[..., dict[str, Any]]]:
    found: dict[str, Callable[..., dict[str, Any]]] = {}
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name.startswith("bench_"):
            mod = importlib.import_module(f"bench.{module.name}")
            found[module.name.removeprefix("bench_")] = mod.run
    return found


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("only", nargs="*", help="benchmark names to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    args = parser.parse_args()
    available = discover()
    chosen = args.only or sorted(available)
    results: dict[str, Any] = {}
    ok = True
    for name in chosen:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result = available[name](quick=args.quick)
        result["seconds_total"] = round(time.perf_counter() - started, 2)
        ok = ok and bool(result.get("pass", True))
        results[name] = result
    print(json.dumps({"benchmarks": results, "pass": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
