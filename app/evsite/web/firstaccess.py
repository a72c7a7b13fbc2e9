"""First access: until the first admin exists, only a holder of the setup secret or
someone who pressed the button may create one; afterwards setup is gone for good."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from evsite.store.db import Database

SECRET_FILENAME = "setup-secret"  # noqa: S105 - a file name, not a secret


class FirstAccess:
    """The setup secret file and the 'setup done' mark in the database."""

    def __init__(self, db: Database, data_dir: Path, window_open: Callable[[], bool]) -> None:
        self._db = db
        self._path = data_dir / SECRET_FILENAME
        self._window_open = window_open

    @property
    def secret_path(self) -> Path:
        """Where the one-time setup secret lives (0600, in the data dir)."""
        return self._path

    def done(self) -> bool:
        """True once the first admin was created (until a factory reset wipes the data)."""
        row = self._db.query_one("SELECT value FROM web_meta WHERE key='setup_done'")
        return row is not None

    def ensure_secret(self) -> str | None:
        """Create the secret on first start; return it while setup is pending, else None."""
        if self.done():
            return None
        try:
            return self._path.read_text().strip()
        except FileNotFoundError:
            pass
        secret = secrets.token_urlsafe(18)  # 144 bits, short enough to type
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        return secret

    def secret_matches(self, given: str) -> bool:
        """Compare a typed secret with the file's, in constant time."""
        try:
            expected = self._path.read_text().strip()
        except FileNotFoundError:
            return False
        return bool(expected) and hmac.compare_digest(expected.encode(), given.strip().encode())

    def window_open(self) -> bool:
        """True while the platform reports an open setup window (button pressed)."""
        return self._window_open()

    def mark_done(self) -> None:
        """Close setup for good and delete the secret."""
        with self._db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO web_meta(key, value) VALUES ('setup_done', '1')")
        self._path.unlink(missing_ok=True)
