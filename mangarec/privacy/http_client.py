"""A contributor over HTTP (``python -m mangarec.privacy join``).

Every POST and poll is signed with the user's identity key over the server's
session id. POSTs are retried (the server treats an exact repeat as accepted),
as are polls, until the overall ``--timeout`` without progress, plus the session's
phase deadline (the longest the server may wait for the others: signed into a lobby's
roster, else from the server's status, at most ``lobby.MAX_DEADLINE``). A phase the
client missed makes it *dropped* (the server went on without it): it says so
and exits 3, it does not crash. If the server restarts it draws a new session
id; the client notices it in /v1/status and joins the new collection from
scratch, with a new pseudonym (nothing of the old session is reused).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path

from .anonymous import OPENABLE, AnonParams
from .contributor import Contributor
from .errors import PrivacyError, ProtocolViolation
from .lobby import MAX_DEADLINE
from .primitives import SigningKey
from .secagg_client import SecAggClient
from .transport_http import poll_payload, wrap_post

_RETRYABLE = (urllib.error.URLError, HTTPException, ConnectionError, TimeoutError, OSError)
_IGNORABLE = ("stale", "out-of-order", "duplicate", "foreign-session")


class Http:
    """Requests with a per-request timeout; POSTs retried until ``deadline``."""

    def __init__(self, base: str, timeout: float = 10.0) -> None:
        self.base, self.timeout = base.rstrip("/"), timeout

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, headers, body) of one request; network errors propagate."""
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def post(self, body: bytes, deadline: float, session: bytes = b"") -> None:
        """POST until accepted; ProtocolViolation with the server's reason on a 4xx. With
        ``session`` the URL names it, so a server that does not run it answers 409 at once."""
        path = "/v1/msg" + (f"?session={session.hex()}" if session else "")
        while True:
            req = urllib.request.Request(
                self.base + path, data=body, method="POST", headers={"Content-Type": "application/octet-stream"}
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    r.read()
                return
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 408:  # 408: the body arrived too slowly, send again
                    try:
                        reason = json.loads(exc.read() or b"{}").get("reason", "bad-format")
                    except ValueError:
                        reason = "bad-format"
                    reason = reason if reason in ProtocolViolation.REASONS else "bad-format"
                    raise ProtocolViolation(reason, "server rejected a frame") from None
            except _RETRYABLE:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server unreachable")
            time.sleep(0.2)


def join(a) -> int:
    from .dataset import read_ratings
    from .transport_http import read_roster

    users = read_ratings(a.ratings)
    if len(users) != 1:
        raise ValueError(f"{a.ratings}: must hold exactly one user's rows, found {len(users)} users")
    ratings = next(iter(users.values()))
    seed = bytes.fromhex(Path(a.key).read_text().strip())
    key = SigningKey(seed)
    roster = read_roster(a.roster)
    if roster.get(a.uid) != key.verify_key:
        raise ValueError(f"{a.key}: this key is not user {a.uid}'s in {a.roster}")
    return Participant(a.server, a.uid, seed, roster, ratings, a.timeout).run()


REENROLL = 4  # the session a lobby fixed is gone (the server restarted): enroll again


class Participant:
    """One contributor's loop against a collection server (``session``: the one session a
    lobby fixed for it; without it, whatever session the server runs)."""

    def __init__(
        self,
        server: str,
        uid: int,
        seed: bytes,
        roster: dict[int, bytes],
        ratings,
        timeout: float,
        params: AnonParams = AnonParams(),
        log=print,
        session: str | None = None,
        deadline: int | None = None,
    ) -> None:
        self.http, self.uid, self.seed, self.roster = Http(server), uid, seed, roster
        self.deadline = deadline  # the signed roster's phase deadline (a lobby's), else the status's
        self.fixed = session
        self.status_path = "/v1/status" + (f"?session={session}" if session else "")
        self.status: dict = {}
        self.key = SigningKey(seed)
        self.ratings, self.timeout, self.params, self.log = ratings, timeout, params, log
        self.contrib: Contributor | None = None
        self.client: SecAggClient | None = None
        self.replies: list[tuple[float, float]] = []  # per frame answered: (wall, this thread's CPU) seconds

    def _post(self, frame: bytes, session: bytes, deadline: float) -> None:
        try:
            self.http.post(wrap_post(self.key, session, self.uid, frame), deadline, session)
        except ProtocolViolation as exc:
            if exc.reason not in _IGNORABLE:
                raise
            # a closed phase or a restarted server: the protocol goes on without this frame

    def run(self) -> int:
        patience = self.timeout + (self.deadline or 0)  # seconds without a frame before giving up
        deadline = time.monotonic() + patience
        session: str | None = None
        seq = 0
        while time.monotonic() < deadline:
            try:
                if self.client is not None and self.client.phase not in ("dropped", "aborted"):
                    sid = self.client.session
                    sig = self.key.sign(poll_payload(sid, self.uid, seq)).hex()
                    code, body = self.http.get(
                        f"/v1/poll?uid={self.uid}&seq={seq}&session={session}", {"X-Signature": sig}
                    )
                    if code == 200:
                        seq += 1
                        deadline = time.monotonic() + patience
                        w0, c0 = time.monotonic(), time.thread_time()
                        try:
                            reply = self.client.receive(body)
                        except ProtocolViolation as exc:
                            if exc.reason not in _IGNORABLE:
                                raise
                            continue  # a frame of a phase this client missed
                        if reply is not None:
                            self._post(reply, sid, deadline)
                            self.replies.append((time.monotonic() - w0, time.thread_time() - c0))
                        continue
                    if code == 503:
                        time.sleep(0.2)
                        continue
                code, body = self.http.get(self.status_path)
                if code == 409 and self.fixed:
                    self.log(f"user {self.uid}: the session is gone (server restarted): enrolling again", flush=True)
                    return REENROLL
                st = self.status = json.loads(body)
                if st["session"] != session:  # first contact, or the server restarted
                    if st["state"] != "running":
                        time.sleep(0.2)
                        continue
                    if session is not None:
                        self.log(f"user {self.uid}: server restarted (new session), rejoining", flush=True)
                    session, seq = st["session"], 0
                    if self.deadline is None:
                        patience = self.timeout + min(MAX_DEADLINE, max(0, int(st.get("deadline", 0))))
                        deadline = time.monotonic() + patience
                    client = self._new_session(st)
                    self._post(client.start(), client.session, deadline)
                elif self.client is not None and (
                    st["state"] != "running" or self.client.phase in ("dropped", "aborted")
                ):
                    return self._report(st)
            except _RETRYABLE:
                time.sleep(0.2)  # server down or restarting: retry until --timeout
            except (PrivacyError, ValueError, KeyError) as exc:
                print(f"error: user {self.uid}: {exc}", file=sys.stderr)
                return 3
        print(f"error: user {self.uid}: no progress for {patience:.0f} s", file=sys.stderr)
        return 3

    def _new_session(self, st: dict) -> SecAggClient:
        if st["rounds"] != self.params.rounds:
            raise ValueError(f"server runs {st['rounds']} rounds per session, this client {self.params.rounds}")
        self.contrib = Contributor(self.ratings, self.params)
        if self.contrib.leftover:
            self.log(
                f"user {self.uid}: {len(self.contrib.leftover)} ratings over the per-profile "
                "limit wait for a later collection"
            )
        self.client = SecAggClient(
            self.uid,
            self.seed,
            self.roster,
            bytes.fromhex(st["session"]),
            st["threshold"],
            self.contrib.input_fn,
            max_rounds=st["rounds"],
            hooks=self.contrib,
            open_policy=self.contrib.open_policy,
            openable=OPENABLE,
        )
        self.contrib.attach(self.client)
        return self.client

    def _report(self, st: dict) -> int:
        c = self.contrib
        assert c is not None and self.client is not None
        c.sync()
        done = len(c.messages) - len(c.pending)
        cut = self.client.phase == "dropped" or any(self.client.result(r) is None for r in self.client.rounds)
        how = "dropped by the server; " if cut else ""
        self.log(f"user {self.uid}: {st['state']}; {how}{done} of {len(c.messages)} messages delivered", flush=True)
        for e in c.events:
            self.log(f"user {self.uid}: noticed: {e}", flush=True)
        return 0 if st["state"] == "done" and c.messages and not c.pending else 3
