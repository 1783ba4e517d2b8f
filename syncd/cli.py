"""The `syncd` command: run, worker, web, db upgrade, check, import, keys, webhooks, conflicts."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from syncd import event_loop
from syncd.config import Settings, load_config
from syncd.errors import ConfigError, InputError
from syncd.logs import configure_logging
from syncd.reconcile import cli as conflicts_cli
from syncd.runtime import Runtime
from syncd.webhooks import cli as webhooks_cli
from syncd.wiring import build_runtime

log = logging.getLogger("syncd")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="syncd", description=__doc__)
    top.add_argument("--config", type=Path, help="TOML configuration file")
    top.add_argument("--log-format", choices=("text", "json"), help="overrides log.format")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="web handler and worker in one process (the default)")
    commands.add_parser("worker", help="only the worker")
    commands.add_parser("web", help="only the web handler")
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply pending migrations")
    check = commands.add_parser("check", help="validate the configuration; report every problem")
    check.add_argument(
        "--online", action="store_true", help="also reach the database and every calendar account"
    )
    importer = commands.add_parser("import", help="back-fill bookings from a JSON file")
    importer.add_argument("file", type=Path)
    importer.add_argument("--no-progress", action="store_true")
    keys = commands.add_parser("keys", help="the keys that encrypt stored credentials")
    key_actions = keys.add_subparsers(dest="keys", required=True)
    key_actions.add_parser("generate", help="print a new key (put it first in [keys] to use it)")
    key_actions.add_parser("rotate", help="encrypt every stored credential with the first key")
    webhooks_cli.add_commands(commands)
    conflicts_cli.add_commands(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_config(args.config)
    except ConfigError as error:
        return _report("configuration", error.problems)
    configure_logging(settings.log.level, args.log_format or settings.log.format)
    return _dispatch(args, settings)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from syncd import commands  # noqa: PLC0415 - keep `syncd --help` fast

    try:
        if args.command == "check":
            return commands.check(settings, online=args.online)
        if args.command == "keys" and args.keys == "generate":
            return commands.keys_generate()
        runtime = build_runtime(settings)
        try:
            return _run_command(args, runtime)
        finally:
            runtime.close()
    except ConfigError as error:
        return _report("configuration", error.problems)
    except InputError as error:
        return _report("input", [f"{k}: {v}" for k, v in error.fields.items()])


def _run_command(args: argparse.Namespace, runtime: Runtime) -> int:
    from syncd import commands  # noqa: PLC0415

    if args.command == "db":
        return commands.db_upgrade(runtime)
    if args.command == "import":
        return commands.import_file(runtime, args.file, progress=not args.no_progress)
    if args.command == "keys":
        return commands.keys_rotate(runtime)
    if args.command == "webhooks":
        return webhooks_cli.run(runtime, args)
    if args.command == "conflicts":
        return conflicts_cli.run(runtime, args)
    return event_loop.run(commands.serve_command(runtime, args.command))


def _report(kind: str, problems: list[str]) -> int:
    print(f"syncd: {len(problems)} {kind} problem(s):", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
