"""A small TOML writer for the configuration file, and an atomic file replace.

It writes what evsite's configuration holds: tables, arrays of tables (nested,
as the circuit tree's feeders and stations are), and arrays and scalars of
strings, integers, floats and booleans. tomllib reads back exactly what was
written. Comments of a hand-written file are not kept.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def dumps(data: Mapping[str, Any]) -> str:
    """The TOML text of a nested mapping."""
    lines: list[str] = []
    _table(data, (), lines, header=False)
    return "\n".join(lines).strip("\n") + "\n"


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace a file's contents in one step; a crash leaves the old or the new file whole."""
    path = path.resolve()
    if path.exists():
        mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _key(name: str) -> str:
    return name if _BARE.fullmatch(name) else _string(name)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(p) for p in path)


def _is_table_array(value: object) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(isinstance(v, Mapping) for v in value)
    )


def _table(data: Mapping[str, Any], path: tuple[str, ...], lines: list[str], header: bool) -> None:
    scalars = [
        (k, v) for k, v in data.items() if not isinstance(v, Mapping) and not _is_table_array(v)
    ]
    tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
    arrays = [(k, v) for k, v in data.items() if _is_table_array(v)]
    if header and (scalars or not (tables or arrays)):
        lines += ["", f"[{_dotted(path)}]"]
    for k, v in scalars:
        lines.append(f"{_key(str(k))} = {_value(v)}")
    for k, v in tables:
        _table(v, (*path, str(k)), lines, header=True)
    for k, items in arrays:
        for item in items:
            lines += ["", f"[[{_dotted((*path, str(k)))}]]"]
            _table(item, (*path, str(k)), lines, header=False)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _string(text: str) -> str:
    # JSON's escapes are TOML's for everything but DEL, which TOML wants escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
