"""A minimal HTTP/1.1 endpoint for the webhook benchmark: answers every POST with 204.

    python bench/webhook_sink.py PORT

A bare asyncio protocol rather than a framework, so the receiver is never what
the benchmark measures. Per path it counts requests and distinct webhook-ids;
`GET /stats` returns the counts as JSON. Prints "ready" once listening.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict

NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
requests: defaultdict[str, int] = defaultdict(int)
webhook_ids: defaultdict[str, set[str]] = defaultdict(set)


def _stats() -> bytes:
    counts = {p: {"requests": n, "webhook_ids": len(webhook_ids[p])} for p, n in requests.items()}
    body = json.dumps(counts).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


class Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
            total = end + 4 + int(headers.get("content-length", "0"))
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            self.answer(lines[0].split(" ")[1], headers)

    def answer(self, path: str, headers: dict[str, str]) -> None:
        assert self.transport is not None
        if path == "/stats":
            self.transport.write(_stats())
            return
        requests[path] += 1
        webhook_ids[path].add(headers.get("webhook-id", ""))
        self.transport.write(NO_CONTENT)


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
