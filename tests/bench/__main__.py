"""Run the benchmarks: every tests/bench/bench_*.py module's main(), or those named."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import tests.bench as package


def main(argv: list[str]) -> int:
    """Run each benchmark module's main() in turn and report which failed."""
    names = sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_")
    )
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in argv] or names
    failed = []
    for name in wanted:
        if name not in names:
            print(f"no benchmark {name}; have: {', '.join(names)}")
            return 2
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        module = importlib.import_module(f"tests.bench.{name}")
        try:
            module.main()
        except Exception as exc:  # report and go on: one broken bench must not hide the rest
            print(f"{name} FAILED: {exc!r}")
            failed.append(name)
        print(f"({name} took {time.monotonic() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
