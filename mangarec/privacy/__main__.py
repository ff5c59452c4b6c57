"""CLI: ``python -m mangarec.privacy {simulate,serve,join}``.

Bad input prints one line ``error: <file>:<line>: <reason>`` and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys

from mangarec.errors import InputError

from .errors import PrivacyError


def _simulate(a) -> int:
    from .dataset import read_ratings, write_collected
    from .simulate import simulate_collection

    users = read_ratings(a.ratings)
    if len(users) < 3:
        raise ValueError(f"{a.ratings}: need at least 3 users, found {len(users)}")
    res = simulate_collection(users, cohort=a.cohort, dropout=a.dropout, seed=a.seed, workers=a.workers)
    n = write_collected(a.out, res.rows)
    print(
        f"collected {n} ratings from {res.contributors} users in {res.cohorts} cohorts "
        f"({res.seconds:.1f} s, {res.bytes_per_user / 1024:.1f} KiB/user, "
        f"smallest anonymity set {res.min_anonymity_set}, dropped {res.dropped_users} users, "
        f"{res.lost_ratings} ratings not delivered) -> {a.out}"
    )
    for e in res.events[:20]:
        print("  event:", e)
    return 0


def _serve(a) -> int:
    from .http_server import serve

    return serve(a)


def _join(a) -> int:
    from .http_client import join

    return join(a)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mangarec.privacy", description="Private rating collection over secure aggregation"
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("simulate", help="in-process simulation of every user of a ratings file")
    s.add_argument("--ratings", required=True)
    s.add_argument("--cohort", type=int, default=200)
    s.add_argument("--dropout", type=float, default=0.0)
    s.add_argument(
        "--seed",
        type=int,
        default=0,
        help="shapes the cohort partition and the dropouts only (all protocol randomness comes from the OS)",
    )
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=_simulate)
    v = sub.add_parser("serve", help="run a collection server on 127.0.0.1")
    v.add_argument("--port", type=int, default=0, help="0 = ephemeral; the port is printed")
    v.add_argument("--users", type=int, required=True, help="number of enrolled users")
    v.add_argument("--roster", required=True, help="file: one 'uid hex(ed25519 public key)' per line")
    v.add_argument("--threshold", type=int, default=0, help="default floor(n/2)+1")
    v.add_argument("--phase-timeout", type=float, default=10.0)
    v.add_argument("--out", required=True)
    v.set_defaults(fn=_serve)
    j = sub.add_parser("join", help="contribute one user's ratings to a running server")
    j.add_argument("--server", required=True, help="http://127.0.0.1:PORT")
    j.add_argument("--uid", type=int, required=True)
    j.add_argument("--key", required=True, help="file holding the user's hex Ed25519 seed")
    j.add_argument("--roster", required=True, help="the same roster file as the server's")
    j.add_argument("--ratings", required=True, help="CSV with this user's rows only")
    j.add_argument("--timeout", type=float, default=60.0)
    j.set_defaults(fn=_join)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (InputError, ValueError, OSError, PrivacyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
