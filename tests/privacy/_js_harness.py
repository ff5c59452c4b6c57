"""Helpers of the JS client's cross-language tests and benchmark (not a test module): run the
Node side (tests/privacy/js/run.mjs), and record a seeded Python client's whole session so a
seeded JS client can replay it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mangarec.privacy.anonymous import OPENABLE
from mangarec.privacy.contributor import Contributor
from mangarec.privacy.errors import PrivacyError
from mangarec.privacy.primitives import RandomSource, hash_bytes
from mangarec.privacy.secagg_client import SecAggClient
from tests.privacy._anon_harness import AnonRun

RUN = Path(__file__).with_name("js") / "run.mjs"


def node(cmd: str, payload: dict) -> dict:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("the JS client's tests need Node.js (apt-get install nodejs)", pytrace=False)
    out = subprocess.run(
        [exe, str(RUN), cmd], input=json.dumps(payload), capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def seeded(label: str) -> bytes:
    return hash_bytes(label.encode())


class _Recorder:
    """Seeded randomness for user 0 of an AnonRun, and the frames it received."""

    def __init__(self) -> None:
        self.seeds = {k: seeded("replay-" + k) for k in ("client", "contrib")}
        self.frames: list[bytes] = []
        self.sent: list[bytes] = []
        rec = self

        self.ids: dict[int, bytes] = {}

        class Peer(SecAggClient):
            def __init__(self, uid, identity_seed, *a, **kw):
                rec.ids[uid] = identity_seed
                super().__init__(uid, identity_seed, *a, **kw)

        class Client(SecAggClient):
            def __init__(self, uid, identity_seed, *a, **kw):
                rec.id_seed, rec.uid, rec.ids[uid] = identity_seed, uid, identity_seed
                super().__init__(uid, identity_seed, *a, rng=RandomSource(rec.seeds["client"]), **kw)
                rec.args = (a, kw)

            def start(self):
                out = super().start()
                rec.sent.append(out)
                return out

            def receive(self, data):
                rec.frames.append(data)
                out = super().receive(data)
                rec.sent.append(out)
                return out

        class Contrib(Contributor):
            def __init__(self, ratings, params):
                super().__init__(ratings, params, RandomSource(rec.seeds["contrib"]))

        self.client, self.contrib, self.peer = Client, Contrib, Peer


def record_session(n=4, dead=()):
    """User 0's whole session in a cohort of ``n``; the users in ``dead`` leave after key setup."""
    rec = _Recorder()
    run = AnonRun(n, contributors={0: rec.contrib}, clients={u: rec.client if u == 0 else rec.peer for u in range(n)})
    run.setup()
    run.dead |= set(dead)
    while run.col.next_round(len(run.sv.live)) is not None:
        run.round()
    for c in run.contribs.values():
        c.sync()
    assert not run.errors, run.errors
    c0 = run.clients[0]
    case = {
        "uid": 0,
        "id_seed": rec.id_seed.hex(),
        "roster": {str(u): k.hex() for u, k in c0.roster.items()},
        "session": run.session.hex(),
        "t": run.t,
        "max_rounds": c0.max_rounds,
        "client_seed": rec.seeds["client"].hex(),
        "contrib_seed": rec.seeds["contrib"].hex(),
        "ratings": [list(x) for x in run.ratings[0]],
    }
    return run, rec, case


def python_replay(case: dict, frames: list):
    """The seeded Python client fed ``frames``: its replies, or the error, per step. A frame may
    be a new session instead, ``{"session": hex, "client_seed": hex}``: the same contributor
    (its token and the collector's key) attached to a fresh client of that session, whose
    step is its Advertise (a collection that runs a second session)."""
    roster = {int(u): bytes.fromhex(k) for u, k in case["roster"].items()}
    contrib = Contributor([tuple(x) for x in case["ratings"]], rng=RandomSource(bytes.fromhex(case["contrib_seed"])))

    def client_of(session: str, seed: str) -> SecAggClient:
        client = SecAggClient(
            case["uid"],
            bytes.fromhex(case["id_seed"]),
            roster,
            bytes.fromhex(session),
            case["t"],
            contrib.input_fn,
            rng=RandomSource(bytes.fromhex(seed)),
            max_rounds=case["max_rounds"],
            hooks=contrib,
            open_policy=contrib.open_policy,
            openable=OPENABLE,
        )
        contrib.attach(client)
        return client

    client = client_of(case["session"], case["client_seed"])
    steps: list = [client.start().hex()]
    for f in frames:
        if isinstance(f, dict):
            client = client_of(f["session"], f["client_seed"])
            steps.append(client.start().hex())
            continue
        try:
            r = client.receive(f)
        except PrivacyError as exc:
            steps.append({"error": type(exc).__name__, "reason": getattr(exc, "reason", None), "message": str(exc)})
            break
        steps.append(None if r is None else r.hex())
    return steps
