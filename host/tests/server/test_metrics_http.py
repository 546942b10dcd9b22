"""``MetricsListener`` in-process: what it answers to well- and ill-formed requests."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from prometheus_client import CollectorRegistry, Counter

from agenthost.server.metrics_http import MAX_HEAD_BYTES, MetricsListener, listen_host


async def _exchange(request: bytes, half_close: bool) -> bytes:
    registry = CollectorRegistry()
    Counter("scrapes_seen", "a counter", registry=registry).inc()
    listener = MetricsListener(registry)
    port = await listener.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        if half_close:
            writer.write_eof()
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer
    finally:
        await listener.stop()


def exchange(request: bytes) -> tuple[str, dict[str, str], bytes]:
    raw = asyncio.run(_exchange(request, half_close=False))
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, body


def test_get_metrics_answers_the_text_format_and_closes() -> None:
    status, headers, body = exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"].startswith("text/plain")
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    assert b"scrapes_seen_total 1.0" in body


def test_head_gives_the_headers_only() -> None:
    status, headers, body = exchange(b"HEAD /metrics HTTP/1.1\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"
    assert int(headers["content-length"]) > 0
    assert body == b""


def test_openmetrics_and_gzip_when_asked() -> None:
    request = (
        b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n"
        b"Accept-Encoding: gzip\r\n\r\n"
    )
    status, headers, body = exchange(request)
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body).endswith(b"# EOF\n")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /etc/passwd HTTP/1.1\r\n\r\n", "404 Not Found"),
        (b"POST /metrics HTTP/1.1\r\n\r\n", "405 Method Not Allowed"),
        (b"garbage\r\n\r\n", "400 Bad Request"),
        (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n", "431 "),
        (b"GET /met", "400 Bad Request"),  # the client gave up half-way
    ],
)
def test_anything_else_gets_a_short_error(request_bytes: bytes, status: str) -> None:
    raw = asyncio.run(_exchange(request_bytes, half_close=True))
    assert raw.decode("latin-1").split("\r\n")[0].startswith(f"HTTP/1.1 {status}")
    assert b"scrapes_seen" not in raw


def test_listen_host_maps_every_interface_to_none() -> None:
    assert listen_host("[::]") is None
    assert listen_host("::") is None
    assert listen_host("127.0.0.1") == "127.0.0.1"
    assert listen_host("[::1]") == "::1"
