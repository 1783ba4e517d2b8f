"""An app registration's certificate, read from a PEM file and checked against a thumbprint.

MSAL for Python computes the SHA-1 and SHA-256 thumbprints of a certificate it is
given as "public_certificate" and signs the client assertion with PS256 and an
`x5t#S256` header; syncd only reads the file and refuses a certificate that does
not match the thumbprint the table names (either kind), before any request.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from connectors.errors import ConfigError

_MAX_BYTES = 64 * 1024  # a PEM certificate chain is a few kilobytes


def read_certificate(path: str, thumbprint: str | None) -> str:
    """The PEM text of the certificate at `path`; `ConfigError` if unreadable or mismatched."""
    try:
        with Path(path).open("rb") as file:
            data = file.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"certificate_file: cannot read {path} ({exc.strerror})"]) from None
    if len(data) > _MAX_BYTES:
        raise ConfigError([f"certificate_file: {path} is larger than a certificate"])
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError([f"certificate_file: {path} holds no PEM certificate"]) from None
    if thumbprint is not None and thumbprint not in thumbprints(certificate):
        raise ConfigError(["certificate_thumbprint: does not match certificate_file"])
    return data.decode("ascii", errors="replace")


def thumbprints(certificate: x509.Certificate) -> set[str]:
    """Its SHA-1 and SHA-256 thumbprints, in upper-case hex as the Entra portal shows them."""
    # SHA-1 names a certificate here (the portal's thumbprint); nothing rests on its strength
    kinds = (hashes.SHA1(), hashes.SHA256())  # noqa: S303
    return {certificate.fingerprint(kind).hex().upper() for kind in kinds}
