"""`evsite user ...` subcommands against a real data directory."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pytest

from evsite.web import commands

PASSWORD = "Quiet-Harbour-Lantern-7"


def _run(tmp_path: Path, *argv: str, stdin: str = "") -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=tmp_path)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command"), [common])
    args = parser.parse_args(list(argv))
    args.raw_config = {}
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return int(args.func(args))
    finally:
        sys.stdin = old


def test_setup_secret_then_first_admin_closes_setup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tmp_path, "user", "setup-secret") == 0
    secret = capsys.readouterr().out.strip()
    assert (tmp_path / "setup-secret").read_text().strip() == secret
    assert (
        _run(tmp_path, "user", "add", "root-admin", "--role", "admin", stdin=PASSWORD + "\n") == 0
    )
    assert not (tmp_path / "setup-secret").exists()
    assert _run(tmp_path, "user", "setup-secret") == 1


def test_user_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path, "user", "add", "boss", "--role", "admin", stdin=PASSWORD + "\n") == 0
    assert _run(tmp_path, "user", "add", "ops", stdin=PASSWORD + "\n") == 0
    assert _run(tmp_path, "user", "role", "ops", "operator") == 0
    assert _run(tmp_path, "user", "passwd", "ops", stdin="Amber-Window-Kettle-42\n") == 0
    assert _run(tmp_path, "user", "disable", "ops") == 0
    capsys.readouterr()
    assert _run(tmp_path, "user", "list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "boss\tadmin\tactive",
        "ops\toperator\tdisabled",
    ]


def test_refusals_exit_non_zero_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tmp_path, "user", "add", "weak", stdin="password2024\n") == 1
    assert "too common" in capsys.readouterr().err
    assert _run(tmp_path, "user", "disable", "ghost") == 1
    assert "no user ghost" in capsys.readouterr().err
    assert _run(tmp_path, "user", "add", "boss", "--role", "admin", stdin=PASSWORD + "\n") == 0
    assert _run(tmp_path, "user", "disable", "boss") == 1
    assert "last enabled admin" in capsys.readouterr().err
