"""Slow and idle clients are cut off by a real `readingroom serve`, over raw sockets.

The server runs with one-second deadlines; each test asserts that the connection ends well
within a generous bound, where before this change a slow-header client was kept for ever.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.serving import serving

pytestmark = [pytest.mark.slow]

DEADLINES = {
    "READINGROOM_HEADER_TIMEOUT_S": "1",
    "READINGROOM_BODY_TIMEOUT_S": "1",
    "READINGROOM_KEEP_ALIVE_TIMEOUT_S": "1",
    "READINGROOM_CHECK_WITNESSES_ON_START": "false",
    "READINGROOM_INGEST_ON_START": "false",
    "READINGROOM_WITNESS_WORKERS": "1",
    "READINGROOM_WITNESS_QUEUE_BACKLOG": "1",
}
CUT_OFF_WITHIN_S = 8.0  # the deadline is 1 s; the rest is slack for a loaded machine


@pytest.fixture(scope="module", params=["httptools", "h11"])
def address(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    """A real server with each HTTP parser: the deadlines must hold for both."""
    settings = {**DEADLINES, "READINGROOM_HTTP_PARSER": request.param}
    with serving(tmp_path_factory.mktemp("serve"), settings=settings) as base:
        parts = urlsplit(base)
        yield parts.hostname or "127.0.0.1", parts.port or 0


def connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=CUT_OFF_WITHIN_S + 2)
    return sock


def read_until_closed(sock: socket.socket, started: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long after ``started``."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and its Content-Length body), however it is split in recv."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-body"
        body += chunk
    assert len(body) == length, "more than one response arrived"
    return head + b"\r\n\r\n" + body


def is_closed(sock: socket.socket) -> bool:
    try:
        sock.setblocking(False)
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


def test_a_silent_connection_is_closed(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        started = time.monotonic()
        data, after = read_until_closed(sock, started)
    assert after < CUT_OFF_WITHIN_S
    assert data.startswith(b"HTTP/1.1 408 ") and b'"request_timeout"' in data


def test_headers_trickled_a_line_at_a_time_are_cut_off(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n")
        closed = False
        while time.monotonic() - started < CUT_OFF_WITHIN_S:
            try:
                sock.sendall(b"X-Slow: still-coming\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if is_closed(sock):
                closed = True
                break
            time.sleep(0.2)
        assert closed, "a client trickling headers was still connected"


def test_many_slow_header_clients_are_all_cut_off(address: tuple[str, int]) -> None:
    sockets = [connect(address) for _ in range(50)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: local")
        started = time.monotonic()
        for sock in sockets:
            _, after = read_until_closed(sock, started)
            assert after < CUT_OFF_WITHIN_S
        # the server still serves a well-behaved client
        with connect(address) as sock:
            sock.sendall(
                b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            )
            data, _ = read_until_closed(sock, time.monotonic())
        assert data.startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in sockets:
            sock.close()


def test_a_slow_body_answers_408(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        sock.sendall(
            b"POST /api/demos/evaluate HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"spec\": "
        )
        started = time.monotonic()
        data, after = read_until_closed(sock, started)
    assert after < CUT_OFF_WITHIN_S
    assert data.startswith(b"HTTP/1.1 408 ") and b'"request_timeout"' in data


def test_an_idle_kept_alive_connection_is_closed(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        rest, after = read_until_closed(sock, started)
    assert after < CUT_OFF_WITHIN_S
    assert not rest.startswith(b"HTTP/1.1 408")  # idle between requests: just closed


def test_a_second_request_on_a_kept_alive_connection_has_its_own_deadline(
    address: tuple[str, int],
) -> None:
    with connect(address) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: loc")  # and never the rest
        started = time.monotonic()
        data, after = read_until_closed(sock, started)
    assert after < CUT_OFF_WITHIN_S
    assert data.startswith(b"HTTP/1.1 408 ")


def test_a_pipelined_second_request_has_its_own_deadline(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        started = time.monotonic()
        sock.sendall(  # a whole request, and the start of a second in the same packet
            b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
            b"GET /api/health HTTP/1.1\r\nHost: loc"
        )
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        data, after = read_until_closed(sock, started)
    assert after < CUT_OFF_WITHIN_S
    assert data.startswith(b"HTTP/1.1 408 ")


def test_whole_pipelined_requests_are_all_answered(address: tuple[str, int]) -> None:
    request = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with connect(address) as sock:
        sock.sendall(request * 2 + request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        data, after = read_until_closed(sock, time.monotonic())
    assert data.count(b"HTTP/1.1 200 ") == 3 and b"408" not in data.split(b"\r\n")[0]
    assert after < CUT_OFF_WITHIN_S


def test_a_rebound_host_name_is_refused_by_the_real_server(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        sock.sendall(
            b"GET /api/health HTTP/1.1\r\nHost: rebound.attacker.example\r\n"
            b"Connection: close\r\n\r\n"
        )
        data, _ = read_until_closed(sock, time.monotonic())
    assert data.startswith(b"HTTP/1.1 400 ") and b'"bad_host"' in data
    assert b"x-content-type-options: nosniff" in data.lower()


def post_run(address: tuple[str, int], code: str) -> socket.socket:
    body = json.dumps({"code": code, "timeout_s": 20}).encode()
    sock = connect(address)
    sock.sendall(
        b"POST /api/witnesses/run HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    return sock


@pytest.mark.sandbox
def test_a_waiting_run_whose_client_leaves_is_dropped(address: tuple[str, int]) -> None:
    """One worker, a backlog of one: a client that gives up must not keep its place."""
    with post_run(address, "import time\ntime.sleep(4)\nprint('slept')") as running:
        time.sleep(0.5)
        waiting = post_run(address, "print('never needed')")
        time.sleep(0.5)
        waiting.close()  # gives up while the first run still runs
        time.sleep(0.5)
        with post_run(address, "print('took its place')") as third:
            third.settimeout(60)
            answer, _ = read_until_closed(third, time.monotonic())
        first, _ = read_until_closed(running, time.monotonic())
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert b"took its place" in answer
    assert first.startswith(b"HTTP/1.1 200 ") and b"slept" in first


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_serve_uses_the_parser_it_is_given_with_the_deadline(parser: str) -> None:
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from server.config import Settings
    from server.serving import protocol_for
    from tests.conftest import TEST_HOST

    settings = Settings(http_parser=parser, header_timeout_s=3.5, allowed_hosts=TEST_HOST)  # type: ignore[arg-type]
    protocol = protocol_for(settings)
    expected = HttpToolsProtocol if parser == "httptools" else H11Protocol
    assert issubclass(protocol, expected)
    assert protocol.header_timeout_s == 3.5
