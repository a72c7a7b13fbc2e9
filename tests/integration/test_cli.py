"""The `evsite` command line, run as a real process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def evsite(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "evsite", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_add_prints_a_new_key_once_and_list_shows_the_station(tmp_path: Path) -> None:
    out = evsite("station", "add", "CP-7", data_dir=tmp_path).stdout
    key = out.split("AuthorizationKey): ")[1].strip()
    assert len(key) == 40
    listing = evsite("station", "list", data_dir=tmp_path).stdout
    assert "CP-7" in listing
    assert key not in listing
    db = (tmp_path / "evsite.db").read_bytes()
    assert key.encode() not in db, "the key must be stored hashed"


def test_add_with_a_key_file_takes_the_stations_key(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("my-station-secret-0042\n")
    out = evsite("station", "add", "CP-8", "--key-file", str(key_file), data_dir=tmp_path).stdout
    assert "my-station-secret-0042" not in out
    weak = tmp_path / "weak"
    weak.write_text("short")
    bad = evsite("station", "add", "CP-9", "--key-file", str(weak), data_dir=tmp_path, check=False)
    assert bad.returncode == 2
    assert "16 to 40 characters" in bad.stderr
    listing = json.loads(evsite("station", "list", "--json", data_dir=tmp_path).stdout)
    assert [s["id"] for s in listing["enrolled"]] == ["CP-8"]


def test_duplicate_add_and_unknown_remove_fail_clearly(tmp_path: Path) -> None:
    evsite("station", "add", "CP-1", data_dir=tmp_path)
    again = evsite("station", "add", "CP-1", data_dir=tmp_path, check=False)
    assert again.returncode == 1
    assert "already enrolled" in again.stderr
    gone = evsite("station", "remove", "NOPE", data_dir=tmp_path, check=False)
    assert gone.returncode == 1
    assert "not enrolled" in gone.stderr


def test_pending_station_can_be_approved_or_rejected(tmp_path: Path) -> None:
    from evsite.clock import SystemClock
    from evsite.store.db import open_database
    from evsite.store.stations import StationRepository

    db = open_database(tmp_path)
    repo = StationRepository(db, SystemClock())
    repo.note_pending("NEW-1", "10.0.0.5", "connection")
    repo.note_pending("NEW-2", "10.0.0.6", "mdns")
    db.close()
    listing = evsite("station", "list", data_dir=tmp_path).stdout
    assert "NEW-1" in listing
    assert "10.0.0.6" in listing
    out = evsite("station", "approve", "NEW-1", data_dir=tmp_path).stdout
    assert "key (shown once" in out
    evsite("station", "reject", "NEW-2", data_dir=tmp_path)
    final = json.loads(evsite("station", "list", "--json", data_dir=tmp_path).stdout)
    assert [s["id"] for s in final["enrolled"]] == ["NEW-1"]
    assert final["pending"] == []
    missing = evsite("station", "approve", "NEW-2", data_dir=tmp_path, check=False)
    assert missing.returncode == 1
    events = [
        json.loads(line)["event"]
        for line in evsite("audit", "export", data_dir=tmp_path).stdout.splitlines()
    ]
    assert "station.approved" in events
    assert "station.rejected" in events


def test_audit_verify_detects_an_edited_record(tmp_path: Path) -> None:
    evsite("station", "add", "CP-1", data_dir=tmp_path)
    evsite("station", "remove", "CP-1", data_dir=tmp_path)
    assert "intact: 2 records" in evsite("audit", "verify", data_dir=tmp_path).stdout
    conn = sqlite3.connect(tmp_path / "evsite.db")
    conn.execute("UPDATE audit SET actor='someone-else' WHERE seq=1")
    conn.commit()
    conn.close()
    tampered = evsite("audit", "verify", data_dir=tmp_path, check=False)
    assert tampered.returncode == 1
    assert "record 1: contents do not match" in tampered.stdout


def test_audit_export_writes_json_lines_to_a_file(tmp_path: Path) -> None:
    evsite("station", "add", "CP-1", data_dir=tmp_path)
    out = tmp_path / "audit.jsonl"
    evsite("audit", "export", "--out", str(out), data_dir=tmp_path)
    record = json.loads(out.read_text().splitlines()[0])
    assert record["event"] == "station.enrolled"
    assert record["actor"].startswith("cli")
    assert len(record["hash"]) == 64


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["run", "--help"],
        ["sim", "--help"],
        ["station", "add", "--help"],
        ["station", "list", "--help"],
        ["station", "remove", "--help"],
        ["station", "approve", "--help"],
        ["station", "reject", "--help"],
        ["audit", "verify", "--help"],
        ["audit", "export", "--help"],
    ],
)
def test_every_command_explains_itself(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "evsite", *command], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert "usage: evsite" in result.stdout
    if command != ["--help"]:
        assert "--data-dir" in result.stdout


def test_a_bad_config_value_names_its_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[ocpp]\nport = 99999\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "evsite",
            "run",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "ocpp.port: must be an integer from 0 to 65535" in result.stderr
    assert not (tmp_path / "evsite.db").exists(), "a bad config must change nothing"
