"""User accounts: add, disable, change role, set password, check a login."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from evsite.clock import Clock
from evsite.store.db import Database
from evsite.web.passwords import Passwords, password_problem
from evsite.web.roles import Role

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$")


class AccountError(ValueError):
    """A refused account change; the message says why and nothing changed."""


@dataclass(frozen=True)
class User:
    """One account, without its password hash."""

    user_id: int
    username: str
    role: Role
    disabled: bool
    created_at: float
    password_changed_at: float


def username_problem(username: str) -> str:
    """Return why a user name is refused, or ""."""
    if not _USERNAME.match(username):
        return "must be 2 to 32 letters, digits, dots, dashes or underscores"
    return ""


def _user(r: sqlite3.Row) -> User:
    return User(
        r["id"],
        r["username"],
        Role.parse(r["role"]),
        bool(r["disabled"]),
        r["created_at"],
        r["password_changed_at"],
    )


class Accounts:
    """The users table."""

    def __init__(self, db: Database, clock: Clock, passwords: Passwords) -> None:
        self._db = db
        self._clock = clock
        self._passwords = passwords

    def add(self, username: str, role: Role, password: str) -> User:
        """Create an account; AccountError if the name or password is refused."""
        if problem := username_problem(username):
            raise AccountError(f"user name {problem}")
        if problem := password_problem(password, username):
            raise AccountError(f"password {problem}")
        digest = self._passwords.hash(password)
        now = self._clock.now().timestamp()
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM web_users WHERE username=?", (username,)).fetchone():
                raise AccountError(f"user {username} exists already")
            cur = conn.execute(
                "INSERT INTO web_users(username, role, password_hash, created_at,"
                " password_changed_at) VALUES (?,?,?,?,?)",
                (username, role.label, digest, now, now),
            )
            user_id = int(cur.lastrowid or 0)
        return self.get(user_id)  # type: ignore[return-value]

    def get(self, user_id: int) -> User | None:
        """One user by id."""
        row = self._db.query_one("SELECT * FROM web_users WHERE id=?", (user_id,))
        return _user(row) if row else None

    def by_name(self, username: str) -> User | None:
        """One user by name (case-insensitive)."""
        row = self._db.query_one("SELECT * FROM web_users WHERE username=?", (username,))
        return _user(row) if row else None

    def list(self) -> list[User]:
        """All users by name."""
        return [_user(r) for r in self._db.query("SELECT * FROM web_users ORDER BY username")]

    def count_admins(self) -> int:
        """How many enabled admins there are."""
        row = self._db.query_one("SELECT COUNT(*) FROM web_users WHERE role='admin' AND disabled=0")
        return int(row[0]) if row else 0

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if name and password match and the account is enabled; else None."""
        row = self._db.query_one("SELECT * FROM web_users WHERE username=?", (username,))
        stored: str | None = row["password_hash"] if row else None
        if not self._passwords.verify(stored, password) or row is None or stored is None:
            return None
        if row["disabled"]:
            return None
        if self._passwords.needs_rehash(stored):
            self._store_hash(int(row["id"]), self._passwords.hash(password), touch=False)
        return _user(row)

    def set_password(self, user_id: int, password: str) -> None:
        """Set a new password (policy checked); the caller ends the user's sessions."""
        user = self._require(user_id)
        if problem := password_problem(password, user.username):
            raise AccountError(f"password {problem}")
        self._store_hash(user_id, self._passwords.hash(password), touch=True)

    def _store_hash(self, user_id: int, digest: str, *, touch: bool) -> None:
        with self._db.transaction() as conn:
            if touch:
                conn.execute(
                    "UPDATE web_users SET password_hash=?, password_changed_at=? WHERE id=?",
                    (digest, self._clock.now().timestamp(), user_id),
                )
            else:
                conn.execute("UPDATE web_users SET password_hash=? WHERE id=?", (digest, user_id))

    def set_role(self, user_id: int, role: Role) -> User:
        """Change a role; the last enabled admin cannot be demoted."""
        user = self._require(user_id)
        if user.role is Role.ADMIN and role is not Role.ADMIN and not user.disabled:
            self._keep_one_admin()
        with self._db.transaction() as conn:
            conn.execute("UPDATE web_users SET role=? WHERE id=?", (role.label, user_id))
        return self._require(user_id)

    def set_disabled(self, user_id: int, disabled: bool) -> User:
        """Disable or enable an account; the last enabled admin cannot be disabled."""
        user = self._require(user_id)
        if disabled and user.role is Role.ADMIN and not user.disabled:
            self._keep_one_admin()
        with self._db.transaction() as conn:
            conn.execute("UPDATE web_users SET disabled=? WHERE id=?", (int(disabled), user_id))
        return self._require(user_id)

    def _keep_one_admin(self) -> None:
        if self.count_admins() <= 1:
            raise AccountError("the last enabled admin cannot be demoted or disabled")

    def _require(self, user_id: int) -> User:
        user = self.get(user_id)
        if user is None:
            raise AccountError(f"no user with id {user_id}")
        return user
