"""The embedded default: each message written as an .eml file into a folder.

The file is named after the Message-ID, and written whole before it appears
(a temporary file, then a rename), so a message sent again after a crash
replaces its own file instead of adding a second one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from syncd.notify.transport.base import Envelope, MailTransport, ServerUnavailableError
from syncd.private_files import private_folder, write_private

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_name(message_id: str) -> str:
    return _UNSAFE.sub("_", message_id.strip("<>")) + ".eml"


class FileTransport(MailTransport):
    name = "file"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, envelope: Envelope) -> None:
        target = self.directory / file_name(envelope.message_id)
        partial = target.with_name(target.name + ".partial")
        try:
            private_folder(self.directory)
            write_private(partial, envelope.data)
            os.replace(partial, target)
        except OSError as error:
            reason = f"cannot write to the mail folder ({error.strerror})"
            raise ServerUnavailableError(reason) from None
