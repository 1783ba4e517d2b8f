"""Files and folders syncd creates hold secrets or personal data: owner-only, whatever the umask.

A folder syncd creates is 0700, a file 0600. Files an older version left
readable to others are tightened when syncd opens them again. Folders that
already existed (a home directory, a project checkout) are left as they are.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> Path:
    """`path` and any missing parents created owner-only."""
    wanted = path
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode passes through the umask
    return wanted


def private_file(path: Path) -> Path:
    """`path` created empty if missing; owner-only either way."""
    private_folder(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    os.chmod(path, FILE_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """`data` into `path`, which nobody but the owner can read at any moment."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)  # it may have existed with another mode
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def tighten(path: Path) -> None:
    """An existing file made owner-only; a missing one is no error."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, FILE_MODE)
