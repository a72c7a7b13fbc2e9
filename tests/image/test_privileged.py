"""The privileged helper protocol: `privileged NAME ARGS` against `priv-exec HELPER`.

systemd's part (Accept=yes, the connection as the service's stdin/stdout) is played by a
small accept loop here; the helper is a script that echoes what it got.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image.conftest import REPO

pytestmark = pytest.mark.image

LIBEXEC = REPO / "rootfs-overlay/usr/libexec/evsite"
HELPER = """#!/bin/sh
printf 'args:'; for a in "$@"; do printf ' [%s]' "$a"; done; echo
echo "stdin bytes: $(wc -c | tr -d ' ')"
echo "a warning" >&2
exit "${EXIT_CODE:-0}"
"""


@pytest.fixture
def priv_dir(tmp_path: Path) -> Iterator[Path]:
    """A socket for helper `echo`, served like systemd would (one priv-exec per connection)."""
    helper = tmp_path / "echo-helper"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "echo.sock"))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                subprocess.run(
                    [sys.executable, str(LIBEXEC / "priv-exec"), str(helper)],
                    stdin=conn.fileno(),
                    stdout=conn.fileno(),
                    stderr=subprocess.DEVNULL,
                    env=os.environ | {"EXIT_CODE": "3", "EVSITE_PRIV_LOCK_DIR": str(tmp_path)},
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield tmp_path
    stop.set()
    listener.close()


def _call(priv_dir: Path, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(LIBEXEC / "privileged"), *args],
        input=data,
        capture_output=True,
        timeout=30,
        env=os.environ | {"EVSITE_PRIV_DIR": str(priv_dir)},
    )


def test_arguments_stdin_output_and_exit_status_pass_through(priv_dir: Path) -> None:
    result = _call(priv_dir, "echo", "on", "two words", "", data=b"x" * 300_000)
    assert result.stdout.decode().splitlines() == [
        "args: [on] [two words] []",
        "stdin bytes: 300000",
    ]
    assert result.stderr == b"a warning\n"
    assert result.returncode == 3


def test_unknown_helper_is_a_clear_error(priv_dir: Path) -> None:
    result = _call(priv_dir, "nope")
    assert result.returncode == 126
    assert b"cannot reach helper 'nope'" in result.stderr


def test_helper_names_cannot_walk_out_of_the_socket_directory(priv_dir: Path) -> None:
    result = _call(priv_dir, "../echo")
    assert result.returncode == 2
    assert b"usage" in result.stderr


def _blocked_on(lock: Path) -> bool:
    """True when some process waits for a lock on this file (/proc/locks "->" entries)."""
    inode = f":{lock.stat().st_ino} "
    return any("->" in line and inode in line + " " for line in Path("/proc/locks").open())


def test_a_second_run_of_a_helper_waits_for_the_first(priv_dir: Path) -> None:
    lock = priv_dir / "echo-helper.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a run of the helper in progress
    try:
        waiting = subprocess.Popen(
            [sys.executable, str(LIBEXEC / "privileged"), "echo", "queued"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ | {"EVSITE_PRIV_DIR": str(priv_dir)},
        )
        deadline = time.monotonic() + 20
        while not _blocked_on(lock) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _blocked_on(lock), "priv-exec did not wait for the helper's lock"
        assert waiting.poll() is None
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    out, _ = waiting.communicate(timeout=30)
    assert waiting.returncode == 3
    assert out.decode().splitlines()[0] == "args: [queued]"
