"""A CalDAV server that costs almost nothing per request, for measuring its clients' CPU.

    python bench/fast_dav.py PORT

It keeps no events: a PUT is answered 201 (204 with If-Match) with a new ETag, a
DELETE 204, a REPORT or PROPFIND an empty 207 multistatus, a GET 404. HTTP/1.1
keep-alive, one asyncio loop, no parsing beyond the request line, headers and
Content-Length. It prints "ready" once it listens, and its own CPU seconds on
SIGTERM, so a benchmark can show that it was never the bottleneck.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import sys
import time

EMPTY_MULTISTATUS = b'<?xml version="1.0" encoding="utf-8"?>\n<multistatus xmlns="DAV:"/>'
_etags = itertools.count(1)
_answered = itertools.count()


def _answer(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def respond(method: str, headers: dict[str, str]) -> bytes:
    next(_answered)
    if method == "PUT":
        etag = {"ETag": f'"e{next(_etags)}"'}
        return _answer("204 No Content" if "if-match" in headers else "201 Created", etag)
    if method == "DELETE":
        return _answer("204 No Content", {})
    if method in ("REPORT", "PROPFIND"):
        xml = {"Content-Type": 'application/xml; charset="utf-8"'}
        return _answer("207 Multi-Status", xml, EMPTY_MULTISTATUS)
    if method == "OPTIONS":
        return _answer("200 OK", {"DAV": "1, 2, calendar-access"})
    return _answer("404 Not Found", {})


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            writer.write(respond(request_line.split(" ", 1)[0], headers))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve_connection, "127.0.0.1", port, backlog=512)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    print(f"cpu {time.process_time():.3f} requests {next(_answered)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
