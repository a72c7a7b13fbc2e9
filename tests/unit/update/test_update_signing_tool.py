"""evsite-sign as a user runs it, and the rule that no private key is ever committed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from evsite.update.bundle import verify_bundle_file
from evsite.update.keyring import Keyring
from tests.unit.update.support import REPO, new_key

TOOL = REPO / "signing" / "evsite-sign"
# A PEM private key block: the header followed by a base64 body (naming the header is fine).
PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]{40}"
)


def sign_tool(
    args: list[str],
    home: Path,
    passphrase: str | None = "a long passphrase",  # noqa: S107 (a test key's passphrase)
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSITE_")}
    env.update(HOME=str(home), EVSITE_DEV_SIGNING_DIR=str(home / "dev-signing"))
    if passphrase is not None:
        env["EVSITE_SIGNING_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "rootfs.img").write_bytes(os.urandom(50_000))
    (tmp_path / "boot.img").write_bytes(os.urandom(5_000))
    return tmp_path


def test_keygen_sign_verify_keyid_with_a_release_key(home: Path) -> None:
    out = sign_tool(["keygen", "--out", str(home / "release")], home)
    assert out.returncode == 0, out.stderr
    private = (home / "release" / "signing.key").read_text()
    assert "BEGIN ENCRYPTED PRIVATE KEY" in private
    assert oct((home / "release" / "signing.key").stat().st_mode & 0o777) == "0o600"
    keyid = sign_tool(["keyid", str(home / "release" / "signing.pub")], home).stdout.strip()
    assert keyid == sign_tool(["keyid", str(home / "release" / "signing.key")], home).stdout.strip()
    assert len(keyid) == 16
    signed = sign_tool(
        [
            "sign",
            "--key",
            str(home / "release" / "signing.key"),
            "--payload",
            f"boot={home / 'boot.img'}",
            "--payload",
            f"rootfs={home / 'rootfs.img'}",
            "--version",
            "1.4.0",
            "--min-version",
            "1.2",
            "--board",
            "cm4",
            "--out",
            str(home),
        ],
        home,
    )
    assert signed.returncode == 0, signed.stderr
    bundle = home / "evsite-1.4.0-cm4.bundle"
    header = verify_bundle_file(bundle, Keyring.load(home / "release" / "signing.pub"))
    assert (header.manifest.build, header.key_id) == ("release", keyid)
    keyring = home / "keyring"
    keyring.mkdir()
    (keyring / "release.pub").write_bytes((home / "release" / "signing.pub").read_bytes())
    ok = sign_tool(["verify", "--keyring", str(keyring), str(bundle)], home)
    assert ok.returncode == 0 and keyid in ok.stdout
    wrong = sign_tool(
        [
            "sign",
            "--key",
            str(home / "release" / "signing.key"),
            "--payload",
            f"rootfs={home / 'rootfs.img'}",
            "--version",
            "1.4.0",
            "--min-version",
            "1.2",
            "--board",
            "cm4",
            "--out",
            str(home / "w"),
        ],
        home,
        passphrase="not the passphrase",
    )
    assert wrong.returncode == 1 and "passphrase" in wrong.stderr


def test_without_a_key_the_development_key_is_made_outside_and_marks_the_build(home: Path) -> None:
    signed = sign_tool(
        [
            "sign",
            "--payload",
            f"rootfs={home / 'rootfs.img'}",
            "--version",
            "0.2",
            "--min-version",
            "0",
            "--board",
            "qemu-arm64",
            "--out",
            str(home / "dev.bundle"),
        ],
        home,
        passphrase=None,
    )
    assert signed.returncode == 0, signed.stderr
    header = verify_bundle_file(
        home / "dev.bundle", Keyring.load(home / "dev-signing" / "signing.pub")
    )
    assert header.manifest.build == "development"
    release = sign_tool(
        [
            "sign",
            "--build",
            "release",
            "--payload",
            f"rootfs={home / 'rootfs.img'}",
            "--version",
            "0.2",
            "--min-version",
            "0",
            "--board",
            "cm4",
            "--out",
            str(home / "r.bundle"),
        ],
        home,
    )
    assert release.returncode == 1 and "development key" in release.stderr


def test_keygen_refuses_to_write_into_a_repository_or_over_a_key(home: Path) -> None:
    inside = sign_tool(["keygen", "--out", str(REPO / "signing" / "keys")], home)
    assert inside.returncode == 1 and "repository" in inside.stderr
    assert not (REPO / "signing" / "keys").exists()
    assert sign_tool(["keygen", "--out", str(home / "k")], home).returncode == 0
    again = sign_tool(["keygen", "--out", str(home / "k")], home)
    assert again.returncode == 1 and "not overwriting" in again.stderr


def test_verify_reports_a_bad_bundle(home: Path) -> None:
    (home / "junk.bundle").write_bytes(b"EVSBNDL\x01" + b"\0" * 10)
    (home / "kr.pub").write_text("")
    out = sign_tool(["verify", "--keyring", str(home / "kr.pub"), str(home / "junk.bundle")], home)
    assert out.returncode == 1


def test_no_private_key_is_tracked_in_the_repository() -> None:
    sample = new_key().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    assert PEM_PRIVATE_KEY.search(sample.decode())  # the check does see a real key
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    offenders = []
    for name in filter(None, files):
        path = REPO / name
        small_file = path.is_file() and path.stat().st_size < 20_000_000
        if small_file and PEM_PRIVATE_KEY.search(path.read_bytes().decode("latin-1")):
            offenders.append(name)
    assert offenders == []
