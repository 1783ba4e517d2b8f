"""Response headers every manage response carries, error pages included.

The manage token is in the URL, so nothing may leak it: no Referer to other
sites, no caching by browsers or proxies, no framing, no foreign scripts or
styles (there is no JavaScript at all; the one stylesheet is served here).
"""

from __future__ import annotations

from collections.abc import Iterable

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers without CSP level 2's frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
DEFAULT_CACHE_CONTROL = "no-store"
_RAW_SECURITY_HEADERS = [(name.lower().encode(), value.encode())
                         for name, value in SECURITY_HEADERS.items()]
_REPLACED = frozenset(name for name, _ in _RAW_SECURITY_HEADERS)
_CACHE_CONTROL = b"cache-control"
_RAW_CACHE_CONTROL = (_CACHE_CONTROL, DEFAULT_CACHE_CONTROL.encode())


def with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` (raw ASGI pairs) with the security headers in place of any of the same name,
    and `Cache-Control: no-store` unless one is there."""
    kept, cache_control = [], False
    for name, value in headers:  # one pass: every manage response comes through here
        lowered = name.lower()
        if lowered not in _REPLACED:
            kept.append((name, value))
            cache_control = cache_control or lowered == _CACHE_CONTROL
    if not cache_control:
        kept.append(_RAW_CACHE_CONTROL)
    kept.extend(_RAW_SECURITY_HEADERS)
    return kept
