"""mangarec.site.serve refuses bad hosts and ports with one line (issue 8, item 17)."""

from __future__ import annotations

import socket
import threading
import urllib.request

import pytest

from mangarec.errors import InputError
from mangarec.site.serve import check_address, make_server, serve


@pytest.fixture
def site(tmp_path):
    (tmp_path / "index.html").write_text("<html>hi</html>")
    return tmp_path


def one_line(exc: InputError) -> str:
    msg = str(exc)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture
def taken_port():
    s = socket.create_server(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


@pytest.mark.parametrize("port", [99999, 65536, -1, True, "80", 8000.0])
def test_port_out_of_range_or_not_an_integer(site, port):
    for call in (lambda: make_server(site, port=port), lambda: serve(site, port=port)):
        with pytest.raises(InputError) as info:
            call()
        assert "must be an integer between 0 and 65535" in one_line(info.value)


def test_taken_port_is_one_line_from_make_server_and_serve(site, taken_port):
    for call in (lambda: make_server(site, port=taken_port), lambda: serve(site, port=taken_port)):
        with pytest.raises(InputError) as info:
            call()
        msg = one_line(info.value)
        assert f"--port {taken_port}: already in use on 127.0.0.1" in msg and "0 for any free one" in msg


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_non_local_host_needs_the_explicit_flag(site, host):
    with pytest.raises(InputError) as info:
        make_server(site, host=host, port=0)
    msg = one_line(info.value)
    assert f"--host {host}: not a loopback address" in msg and "--public" in msg


def test_public_host_allowed_with_the_flag(site):
    srv = make_server(site, host="0.0.0.0", port=0, allow_public=True)
    try:
        port = srv.server_address[1]
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        t.start()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert b"hi" in r.read()
    finally:
        srv.shutdown()
        srv.server_close()


def test_address_not_on_this_machine_even_with_the_flag(site):
    with pytest.raises(InputError) as info:
        make_server(site, host="192.0.2.1", port=0, allow_public=True)  # TEST-NET-1, never local
    assert "--host 192.0.2.1: not an address of this machine" in one_line(info.value)


@pytest.mark.parametrize("host", ["no-such-host.invalid", "", "local host"])
def test_host_that_does_not_resolve(site, host):
    with pytest.raises(InputError) as info:
        make_server(site, host=host, port=0)
    assert f"--host {host!r}" in one_line(info.value) or "cannot resolve" in one_line(info.value)


def test_loopback_names_and_ipv6(site):
    assert check_address("localhost", 0) == socket.AF_INET
    assert check_address("127.0.0.2", 0) == socket.AF_INET
    assert check_address("::1", 0) == socket.AF_INET6
    srv = make_server(site, host="::1", port=0)
    try:
        assert srv.server_address[0] == "::1"
    finally:
        srv.server_close()


def test_missing_directory_and_bad_base_path(tmp_path, site):
    with pytest.raises(InputError) as info:
        make_server(tmp_path / "nope", port=0)
    assert "not a directory" in one_line(info.value) and str(tmp_path / "nope") in str(info.value)
    with pytest.raises(InputError, match="base path 'sub': must start and end with '/'"):
        make_server(site, port=0, base_path="sub")
