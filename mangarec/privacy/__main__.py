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
    if a.lobby:
        from .http_lobby import serve_lobby

        return serve_lobby(a)
    if a.roster is None or a.users is None:
        raise ValueError("serve: --roster and --users are required without --lobby")
    from .http_server import serve

    a.phase_timeout = 10.0 if a.phase_timeout is None else a.phase_timeout
    return serve(a)


def _join(a) -> int:
    if a.lobby:
        from .lobby_client import join_lobby

        return join_lobby(a)
    if None in (a.server, a.uid, a.key, a.roster):
        raise ValueError("join: --server, --uid, --key and --roster are required without --lobby")
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
    v = sub.add_parser("serve", help="run a collection server (a fixed roster, or a lobby that enrolls)")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (behind a TLS reverse proxy: 127.0.0.1)")
    v.add_argument("--port", type=int, default=0, help="0 = ephemeral; the port is printed")
    v.add_argument("--users", type=int, help="number of enrolled users (with --roster)")
    v.add_argument("--roster", help="file: one 'uid hex(ed25519 public key)' per line")
    v.add_argument("--threshold", type=int, default=0, help="default floor(n/2)+1")
    v.add_argument("--phase-timeout", type=float, default=None, help="seconds (default 10, 30 with --lobby)")
    v.add_argument("--out", required=True, help="the collected CSV (pseudonym,item_id,rating)")
    v.add_argument("--allow-origin", action="append", help="CORS: the site's origin, e.g. https://example.org")
    v.add_argument("--per-address", type=int, default=16, help="connections at once per client address (0: no bound)")
    v.add_argument("--header-deadline", type=float, default=10.0, help="seconds for a request's line and headers")
    g = v.add_argument_group("lobby (enrollment without a pre-shared roster)")
    g.add_argument("--lobby", action="store_true", help="admit contributors who enroll with a fresh key")
    g.add_argument("--index", action="append", help="a build's data/embeddings-titles.json (repeatable)")
    g.add_argument("--min-cohort", type=int, default=32)
    g.add_argument("--max-cohort", type=int, default=256)
    g.add_argument("--gather", type=float, default=5.0, help="seconds to wait for more once --min-cohort wait")
    g.add_argument("--pow-bits", type=int, default=20, help="proof of work per enrollment: 2^bits BLAKE2b")
    g.add_argument("--enroll-rate", type=float, default=2.0, help="enrollments per second per address (burst 10)")
    g.add_argument("--max-sessions", type=int, default=4, help="collections running at once")
    g.add_argument("--forwarded", action="store_true", help="trust X-Forwarded-For (behind your reverse proxy)")
    g.add_argument("--stop-after", type=int, default=0, help="exit after this many collections (0: never)")
    v.set_defaults(fn=_serve)
    j = sub.add_parser("join", help="contribute one user's ratings to a running server")
    j.add_argument("--server", help="http://127.0.0.1:PORT (with --uid/--key/--roster)")
    j.add_argument("--uid", type=int)
    j.add_argument("--key", help="file holding the user's hex Ed25519 seed")
    j.add_argument("--roster", help="the same roster file as the server's")
    j.add_argument("--lobby", help="the lobby's URL (the site's collect_url): enroll with a fresh key")
    j.add_argument("--collect", help="the site's data/collect.json (file or URL), with --lobby")
    j.add_argument("--min-cohort", type=int, default=0, help="refuse a smaller roster (default: the site's)")
    j.add_argument(
        "--ratings", required=True, help="CSV with this user's rows only (or, with --lobby, a site ratings export)"
    )
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
