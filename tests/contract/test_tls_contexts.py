"""TLS contexts shared by every client of the process that verifies the same way
(connectors/transport.py): a thousand stored accounts load a CA bundle once."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
import trustme

from connectors.transport import UnreadableCAFile, tls_verification


def test_clients_verifying_alike_share_one_context() -> None:
    assert tls_verification(None) is tls_verification(None)
    assert tls_verification(None).verify_mode == ssl.CERT_REQUIRED
    unverified = tls_verification(None, verify=False)
    assert unverified is tls_verification(None, verify=False)
    assert unverified.verify_mode == ssl.CERT_NONE


def test_a_ca_file_replaced_on_disk_is_loaded_anew(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    first = tls_verification(str(ca_file))
    assert tls_verification(str(ca_file)) is first
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    modified = ca_file.stat().st_mtime_ns + 1_000_000_000
    os.utime(ca_file, ns=(modified, modified))
    second = tls_verification(str(ca_file))
    assert second is not first
    assert second.get_ca_certs() != first.get_ca_certs()


def test_a_missing_ca_file_is_named_every_time(tmp_path: Path) -> None:
    for _ in range(2):
        with pytest.raises(UnreadableCAFile, match="ca_file"):
            tls_verification(str(tmp_path / "absent.pem"))
