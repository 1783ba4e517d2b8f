"""The import contract in .importlinter holds, and an upward import breaks it.

`make lint` runs lint-imports on the tree as it is; here a copy of the tree gets
one import that goes against the layers, and lint-imports must refuse it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _tree_with(tmp_path: Path, module: str, line: str) -> Path:
    for package in ("syncd", "connectors"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env={"PYTHONPATH": str(tree)},
        capture_output=True, text=True, timeout=300, check=False,
    )


LAYERS = "syncd in layers: commands over services over capabilities over the store"
STAND_ALONE = "connectors import nothing of syncd"


@pytest.mark.parametrize(
    ("module", "line", "broken", "named"),
    [
        ("syncd/store/db.py", "import syncd.api.app", LAYERS, "syncd.store.db -> syncd.api.app"),
        ("syncd/domain/bookings.py", "import syncd.store.models", LAYERS,
         "syncd.domain.bookings -> syncd.store.models"),
        ("syncd/worker/converge.py", "import syncd.serve", LAYERS,
         "syncd.worker.converge -> syncd.serve"),
        ("connectors/caldav/http.py", "import syncd.errors", STAND_ALONE,
         "connectors.caldav.http -> syncd.errors"),
    ],
)
def test_an_import_against_the_layers_breaks_the_contract(
    tmp_path: Path, module: str, line: str, broken: str, named: str
) -> None:
    result = _lint(_tree_with(tmp_path, module, line))
    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout
    assert "Contracts: 1 kept, 1 broken." in result.stdout
    assert named in result.stdout


def test_the_tree_as_it_is_keeps_both_contracts(tmp_path: Path) -> None:
    result = _lint(_tree_with(tmp_path, "syncd/__init__.py", ""))
    assert result.returncode == 0, result.stdout
    assert f"{LAYERS} KEPT" in result.stdout
    assert f"{STAND_ALONE} KEPT" in result.stdout
