"""The support bundle: configuration without secrets, live status, recent audit records."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from evsite import __version__
from evsite.facade.toml_write import dumps

REMOVED = "(removed)"
# Names of settings whose values must never leave the device.
_SECRET = re.compile(r"key|password|passphrase|secret|token|credential", re.IGNORECASE)


def without_secrets(value: Any) -> Any:
    """A copy with the value of every secret-looking setting replaced."""
    if isinstance(value, Mapping):
        return {
            k: REMOVED if _SECRET.search(str(k)) else without_secrets(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [without_secrets(v) for v in value]
    return value


def bundle(
    now: datetime,
    config: Mapping[str, Any],
    status: Mapping[str, Any],
    audit_lines: Sequence[str],
    extra: Mapping[str, bytes],
) -> bytes:
    """A tar.gz of the files support needs, under one evsite-diagnostics/ folder."""
    files: dict[str, bytes] = {
        "version.txt": f"evsite {__version__}\n".encode(),
        "config.toml": dumps(without_secrets(config)).encode(),
        "status.json": json.dumps(status, indent=1, default=str).encode(),
        "audit.jsonl": "".join(line + "\n" for line in audit_lines).encode(),
        **extra,
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"evsite-diagnostics/{name}")
            info.size = len(data)
            info.mtime = int(now.timestamp())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
