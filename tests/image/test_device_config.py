"""The device settings the image ships (/etc/evsite/config.toml) and its update keyring.

The generator runs here on the host (fast suite); the built image's copy is checked
too when an image exists. Both go through the app's own parsers.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from evsite.config import parse_settings
from evsite.platform import parse_platform_settings
from evsite.update.keyring import Keyring
from evsite.update.settings import parse_update_settings
from tests.image.conftest import REPO

SCRIPT = REPO / "image/scripts/device-config.sh"
SIGN = REPO / "signing/evsite-sign"
PYTHON = REPO / ".venv/bin/python"
MiB = 1024 * 1024


def _keygen(where: Path) -> Path:
    subprocess.run(
        [str(PYTHON), str(SIGN), "keygen", "--out", str(where)],
        check=True,
        capture_output=True,
        env=os.environ | {"EVSITE_SIGNING_PASSPHRASE": "correct horse battery"},
    )
    return where


def _generate(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), str(tmp / "etc-evsite")],
        env=os.environ | {"BOARD": "qemu-arm64"} | env,
        capture_output=True,
        text=True,
    )


def _parse(config: Path, keyring: Path) -> tuple[dict[str, Any], Any]:
    raw = tomllib.loads(config.read_text())
    parse_settings(raw)
    update = parse_update_settings(raw["update"])
    keys = Keyring.load(keyring)
    return raw, (update, keys)


def _key_id(pub: Path) -> str:
    out = subprocess.run(
        [str(PYTHON), str(SIGN), "keyid", str(pub)], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def release_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A release key pair made for the test, outside the repository."""
    return _keygen(tmp_path_factory.mktemp("keys") / "release")


def test_release_image_settings_parse_and_trust_only_the_release_key(
    tmp_path: Path, release_key: Path
) -> None:
    done = _generate(tmp_path, SIGNING_PUB=str(release_key / "signing.pub"))
    assert done.returncode == 0, done.stderr
    etc = tmp_path / "etc-evsite"
    raw, (update, keys) = _parse(etc / "config.toml", etc / "keyring")
    assert raw["web"]["port"] == 443
    assert update.board == "qemu-arm64"
    assert update.helper_launcher == "privileged"
    assert update.bootchooser == "uboot" and update.slot_writer == "helper"
    assert update.allow_development is False
    assert str(update.keyring) == "/etc/evsite/keyring"
    # Explicit sizes, equal to the partitions the image makes; no sysfs read needed.
    sizes = {s.name: s.size for s in update.slot_table().all()}
    assert sizes == {
        "boot.A": 96 * MiB,
        "rootfs.A": 1024 * MiB,
        "boot.B": 96 * MiB,
        "rootfs.B": 1024 * MiB,
    }
    assert str(update.slots["B"]["rootfs"].path) == "/dev/disk/by-partlabel/rootfs_b"
    files = list((etc / "keyring").iterdir())
    assert [f.name for f in files] == [f"{_key_id(release_key / 'signing.pub')}.pub"]
    assert b"PRIVATE" not in files[0].read_bytes()
    assert keys.key_ids() == [_key_id(release_key / "signing.pub")]


def test_development_image_trusts_the_dev_key_and_allows_development_builds(
    tmp_path: Path,
) -> None:
    dev = tmp_path / "dev-signing"
    done = _generate(tmp_path, EVSITE_DEV_SIGNING_DIR=str(dev))
    assert done.returncode == 0, done.stderr
    etc = tmp_path / "etc-evsite"
    _, (update, _) = _parse(etc / "config.toml", etc / "keyring")
    assert update.allow_development is True
    assert (dev / "signing.key").exists(), "the development key is made on first use"
    pubs = [f.name for f in (etc / "keyring").iterdir()]
    assert pubs == [f"{_key_id(dev / 'signing.pub')}.pub"]


@pytest.mark.parametrize(("board", "pin"), [("qemu-arm64", None), ("cm4", 26)])
def test_the_device_backend_does_the_privileged_actions_with_the_boards_button(
    tmp_path: Path, release_key: Path, board: str, pin: int | None
) -> None:
    done = _generate(tmp_path, BOARD=board, SIGNING_PUB=str(release_key / "signing.pub"))
    assert done.returncode == 0, done.stderr
    raw = tomllib.loads((tmp_path / "etc-evsite/config.toml").read_text())
    platform = parse_platform_settings(raw)
    assert platform.backend == "device" and platform.helper_launcher == "privileged"
    assert str(platform.helper_dir) == "/usr/libexec/evsite"
    assert platform.button_pin == pin and platform.button_hold_s == 10.0


def test_a_private_key_is_refused_and_nothing_is_written(tmp_path: Path, release_key: Path) -> None:
    done = _generate(tmp_path, SIGNING_PUB=str(release_key / "signing.key"))
    assert done.returncode == 2
    assert "not a PEM public key" in done.stderr
    assert not (tmp_path / "etc-evsite").exists()


@pytest.mark.image
def test_built_image_ships_the_settings_the_app_accepts(rootfs: Path) -> None:
    etc = rootfs / "etc/evsite"
    unit = (rootfs / "etc/systemd/system/evsite.service").read_text()
    assert "--config /etc/evsite/config.toml" in unit
    _, (update, keys) = _parse(etc / "config.toml", etc / "keyring")
    assert len(keys.key_ids()) == 1
    release = dict(
        line.split("=", 1) for line in (rootfs / "etc/evsite-release").read_text().splitlines()
    )
    assert update.board == release["EVSITE_BOARD"]
    assert update.helper_launcher == "privileged"
    for path in etc.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), path
    # Every helper the settings name is in the image.
    for helper in ("privileged", "update-write-slot", "update-get-boot", "update-set-boot"):
        assert (rootfs / "usr/libexec/evsite" / helper).exists(), helper
