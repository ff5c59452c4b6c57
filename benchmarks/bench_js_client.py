"""The browser contributor's own cost in a session, beside the Python contributor's.

One seeded contributor of an in-process cohort of n (mangarec.privacy, the anonymous channel:
key setup, then reserve, marks and message rounds) is recorded; then the same contributor,
seeded alike, is replayed on the frames the server sent it: by the Python client (baseline) and
by the JS client in Node 20 on the vendored libsodium (WebAssembly), the code a visitor's Web
Worker runs. Both must answer with the same bytes; the wall time of each replay (client work
only: no server, no network) is printed. The machine is shared: compare the two columns only.

    python benchmarks/bench_js_client.py [--n 16 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' harness

from tests.privacy._js_harness import node, python_replay, record_session  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[16, 64])
    a = ap.parse_args()
    print(f"{'cohort':>7} {'frames':>7} {'Python client s':>16} {'JS client s':>12} {'JS / Python':>12}")
    for n in a.n:
        _, rec, case = record_session(n)
        t0 = time.perf_counter()
        want = python_replay(case, rec.frames)
        py = time.perf_counter() - t0
        got = node("replay", {**case, "frames": [f.hex() for f in rec.frames]})
        if got["steps"] != want:
            print(f"error: n={n}: the JS client answered differently from the Python client", file=sys.stderr)
            return 1
        js = got["ms"] / 1000
        print(f"{n:7d} {len(rec.frames):7d} {py:16.3f} {js:12.3f} {js / py:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
