"""A small authoritative DNS server on 127.0.0.1 for tests, answering from records the
test gives it (dnspython builds and reads the messages).

    with DnsServer() as dns:
        dns.add("_caldav._tcp.example.test", "SRV", "0 1 8080 127.0.0.1.")
        options = ClientOptions(dns_servers=dns.servers())

A name with no records at all is NXDOMAIN; a known name without the asked type is an
empty NOERROR answer (NoAnswer), as real servers say.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Self

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from connectors.caldav.discovery import DnsServers


class DnsServer:
    def __init__(self) -> None:
        self._records: dict[tuple[dns.name.Name, str], list[str]] = {}
        self.queries: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port = int(self._socket.getsockname()[1])
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def add(self, name: str, kind: str, *rdatas: str) -> None:
        key = (dns.name.from_text(name), kind.upper())
        self._records.setdefault(key, []).extend(rdatas)

    def servers(self) -> DnsServers:
        return DnsServers(("127.0.0.1",), self.port)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self._socket.sendto(self._answer(dns.message.from_wire(wire)).to_wire(), client)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for question in query.question:
            kind = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((question.name.to_text(), kind))
            rdatas = self._records.get((question.name, kind))
            if rdatas:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, "IN", kind, rdatas)
                )
            elif not any(name == question.name for name, _ in self._records):
                response.set_rcode(dns.rcode.NXDOMAIN)
        return response

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join()
        self._socket.close()
