"""Cyrus IMAP's CalDAV (Debian `cyrus-imapd`, `cyrus-caldav`, `sasl2-bin`) for tests.

A private `master` with its own imapd.conf and cyrus.conf serves HTTP (CalDAV)
and IMAP on free 127.0.0.1 ports. Its tree lives in a directory of its own
under the system temp folder: run as root, Cyrus drops to the `cyrus` user,
which cannot enter pytest's private temp folders. A user's calendar home is
provisioned by their first IMAP login (`autocreate_quota`); before it, httpd
answers 500 "could not autoprovision calendars".
"""

from __future__ import annotations

import copy
import imaplib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

from tests.servers import DavServer, free_port

CYRUS_BIN = Path("/usr/lib/cyrus/bin")
SASLPASSWD = "saslpasswd2"
_REALM = "127.0.0.1"


def cyrus_missing() -> str | None:
    """Why Cyrus cannot run here, or None when it can."""
    if not (CYRUS_BIN / "master").exists() or not (CYRUS_BIN / "httpd").exists():
        return "Cyrus CalDAV is not installed (apt-get install cyrus-imapd cyrus-caldav)"
    if shutil.which(SASLPASSWD) is None:
        return "saslpasswd2 is not installed (apt-get install sasl2-bin)"
    return None


class CyrusServer(DavServer):
    """Cyrus with sasldb users: `/dav/calendars/user/<user>/<name>/` collections.

    A calendar object's UID is unique across the user's whole calendar home.
    """

    def _prepare(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="syncd-cyrus-"))
        self.imap_port = free_port()
        for name in ("config", "spool", "lock", "proc", "socket"):
            (self.root / name).mkdir()
        self.config_file = self.root / "imapd.conf"
        self.config_file.write_text(self._imapd_conf())
        (self.root / "cyrus.conf").write_text(self._cyrus_conf())
        self._add_user()
        if os.geteuid() == 0:
            _give_to_cyrus(self.root)

    def _imapd_conf(self) -> str:
        root = self.root
        return (
            f"configdirectory: {root / 'config'}\n"
            "defaultpartition: default\n"
            f"partition-default: {root / 'spool'}\n"
            f"mboxname_lockpath: {root / 'lock'}\n"
            f"proc_path: {root / 'proc'}\n"
            f"lmtpsocket: {root / 'socket' / 'lmtp'}\n"
            f"idlesocket: {root / 'socket' / 'idle'}\n"
            f"notifysocket: {root / 'socket' / 'notify'}\n"
            f"servername: {_REALM}\n"
            "allowplaintext: yes\n"
            "sasl_pwcheck_method: auxprop\n"
            "sasl_auxprop_plugin: sasldb\n"
            f"sasl_sasldb_path: {root / 'sasldb2'}\n"
            "sasl_mech_list: PLAIN\n"
            "autocreate_quota: 0\n"
            "httpmodules: caldav\n"
            "caldav_allowscheduling: off\n"
            "syslog_prefix: syncd-test-cyrus\n"
        )

    def _cyrus_conf(self) -> str:
        conf = f"-C {self.config_file}"
        return (
            f'START {{\n  recover cmd="ctl_cyrusdb -r {conf}"\n}}\n'
            "SERVICES {\n"
            f'  imap cmd="imapd {conf}" listen="127.0.0.1:{self.imap_port}" prefork=0\n'
            f'  http cmd="httpd {conf}" listen="127.0.0.1:{self.port}" prefork=2\n'
            "}\nEVENTS {\n}\n"
        )

    def fresh_account(self) -> CyrusServer:
        """This server seen as a new user, whose calendar home holds no UID yet."""
        account = copy.copy(self)
        account.username = f"user{secrets.token_hex(4)}"
        account.password = secrets.token_urlsafe(16)
        account.password_file = self.data_dir / f"password-{account.username}"
        account.password_file.write_text(account.password)
        account._add_user()
        account._after_start()
        return account

    def _add_user(self) -> None:
        subprocess.run(
            [SASLPASSWD, "-c", "-p", "-f", str(self.root / "sasldb2"), "-u", _REALM,
             self.username],
            input=self.password.encode(), check=True, capture_output=True,
        )

    def _command(self) -> list[str]:
        return [
            str(CYRUS_BIN / "master"), "-C", str(self.config_file),
            "-M", str(self.root / "cyrus.conf"), "-p", str(self.root / "master.pid"),
        ]

    def _after_start(self) -> None:
        """One IMAP login provisions the user's calendar home."""
        imap = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        try:
            imap.login(self.username, self.password)
        finally:
            imap.logout()

    def collection_path(self, name: str) -> str:
        return f"/dav/calendars/user/{quote(self.username)}/{quote(name)}/"

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _give_to_cyrus(root: Path) -> None:
    account = pwd.getpwnam("cyrus")
    for path in [root, *root.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
