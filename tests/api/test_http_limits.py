"""The HTTP server's limits on a real `diagnosis serve` (issue 14, 5 and 6): oversized or too many
headers are refused, a head or body that never completes is answered 408 and closed, a silent
connection is closed, the connection cap answers 503, and huge integers are a 422."""

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests import server_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server_process.ServerProcess]:
    tmp = tmp_path_factory.mktemp("http-limits")
    with server_process.running(
        tmp,
        DIAGNOSIS_HTTP_HEADER_TIMEOUT_S="1",
        DIAGNOSIS_HTTP_BODY_TIMEOUT_S="1",
        DIAGNOSIS_HTTP_MAX_HEADER_BYTES="8192",
        DIAGNOSIS_HTTP_MAX_HEADERS="50",
        DIAGNOSIS_HTTP_MAX_CONNECTIONS="20",
    ) as proc:
        yield proc


def exchange(port: int, data: bytes, *, bound_s: float = 15.0) -> bytes:
    """Send `data`, then read until the server closes the connection (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=bound_s) as sock:
        if data:
            sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def test_a_header_block_over_the_limit_is_431(server):
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000  # never finished
    assert status_of(exchange(server.port, head)) == 431
    finished = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    assert status_of(exchange(server.port, finished)) == 431


def test_too_many_header_fields_are_431(server):
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(60))
    assert status_of(exchange(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + fields +
                              b"\r\n")) == 431


def test_a_head_that_never_completes_is_answered_408_and_closed(server):
    response = exchange(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n")
    assert status_of(response) == 408


def test_a_connection_that_sends_nothing_is_closed(server):
    assert status_of(exchange(server.port, b"")) == 408


def test_a_body_shorter_than_its_content_length_is_answered_408(server):
    request = (b"POST /api/diagnoses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100\r\n\r\n{}")
    assert status_of(exchange(server.port, request)) == 408


def test_over_the_connection_cap_new_requests_get_503(server):
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    try:
        response = exchange(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(response) == 503
    finally:
        for sock in idle:
            sock.close()


def test_normal_requests_still_work_alongside(server):
    assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200


@pytest.mark.parametrize("query", [
    "/api/diagnoses?page=9223372036854775807",
    "/api/diagnoses?page=0",
    "/api/diagnoses?limit=100000",
    "/api/diagnoses/x/results?offset=9223372036854775808",
    "/api/diagnoses/x/results?limit=-1",
])
def test_out_of_range_integers_are_422_not_500(server, query):
    response = httpx.get(f"{server.base_url}{query}", timeout=10)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
