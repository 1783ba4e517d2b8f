"""Certificates: the double's HTTPS identity (a trustme CA) and app credentials.

files = TlsFiles()                  # ca_file, cert_file, key_file in a temp dir
credential = AppCertificate.new()   # for GraphDouble.add_app(certificate_pem=...)
msal_credential = credential.msal_credential()  # {"private_key": ..., "thumbprint": ...}
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


class TlsFiles:
    """A CA and a certificate for 127.0.0.1/localhost, written under a temporary directory."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="graph-double-")
        root = Path(self._dir.name)
        authority = trustme.CA()
        leaf = authority.issue_cert("127.0.0.1", "localhost")
        self.ca_file = str(root / "ca.pem")
        self.cert_file = str(root / "cert.pem")
        self.key_file = str(root / "key.pem")
        authority.cert_pem.write_to_path(self.ca_file)
        leaf.private_key_pem.write_to_path(self.key_file)
        with open(self.cert_file, "wb") as chain:
            for blob in leaf.cert_chain_pems:
                chain.write(blob.bytes())


@dataclass(frozen=True)
class AppCertificate:
    """A self-signed certificate an app registers, with the private key it signs with."""

    private_key_pem: str
    certificate_pem: str
    sha1_thumbprint: str  # hex, as the Azure portal shows it (MSAL's "thumbprint")

    @classmethod
    def new(cls, common_name: str = "syncd-test-app") -> AppCertificate:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()
        return cls(key_pem, cert_pem, thumbprint)

    @property
    def sha256_thumbprint(self) -> str:
        """The SHA-256 thumbprint in hex, as Entra's newer pages show it."""
        certificate = x509.load_pem_x509_certificate(self.certificate_pem.encode())
        return certificate.fingerprint(hashes.SHA256()).hex().upper()

    def msal_credential(self, *, with_certificate: bool = False) -> dict[str, str]:
        """MSAL's client_credential: SHA-1 thumbprint (RS256), or the certificate (PS256)."""
        if with_certificate:
            return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}
        return {"private_key": self.private_key_pem, "thumbprint": self.sha1_thumbprint}
