"""Settings as the UI edits them: shown from the configuration, checked by the real
parsers, written to the configuration file atomically; they apply after a restart.

The editor keeps its own copy of the configuration in force (the merged one the
controller was started with) and changes it only after the file was written, so
the form shows what the next start will use. Only the values changed are
written into the file, so options given on the command line (ports under `evsite
sim`, for instance) do not end up in it; a value inside a list that the file
does not hold yet (the simulated site's circuit tree) brings its whole table.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evsite.audit_sink import AuditSink
from evsite.config import load_raw, parse_settings
from evsite.config_errors import ConfigError
from evsite.facade.settings_fields import Field, ValuePath, is_delete, parse, sections, shown
from evsite.facade.toml_write import dumps, write_atomic
from evsite.platform import parse_platform_settings
from evsite.web.facade import FacadeError

APPLIES = "after a restart"


def check_config(raw: Mapping[str, Any]) -> None:
    """Every parser the controller runs at start; ConfigError names the first bad key."""
    parse_settings(raw)
    parse_platform_settings(raw)


class ConfigEditor:
    """Shows, validates and saves settings by section."""

    def __init__(
        self,
        raw: Mapping[str, Any],
        path: Path,
        audit: AuditSink,
        check: Callable[[Mapping[str, Any]], None] = check_config,
    ) -> None:
        self._raw: dict[str, Any] = copy.deepcopy(dict(raw))
        self.path = path
        self._audit = audit
        self._check = check
        self._lock = threading.Lock()

    def settings(self) -> dict[str, dict[str, Any]]:
        """Section -> field -> value as shown in the form."""
        with self._lock:
            raw = self._raw
            return {
                name: {f.name: shown(f, raw) for f in fields.values()}
                for name, fields in sections(raw).items()
            }

    def validate(self, section: str, values: Mapping[str, str]) -> dict[str, str]:
        """Field -> error for typed values; empty when the whole configuration would parse."""
        with self._lock:
            return self._changed(section, values)[1]

    def apply(self, section: str, values: Mapping[str, str]) -> None:
        """Write the changed values into the configuration file, or raise and change nothing."""
        with self._lock:
            candidate, errors = self._changed(section, values)
            if errors:
                raise FacadeError(
                    "; ".join(f"{k}: {v}" if k else v for k, v in sorted(errors.items()))
                )
            fields = sections(self._raw)[section]
            try:
                document = load_raw(self.path) if self.path.exists() else {}
            except ConfigError as exc:
                raise FacadeError(f"the configuration file cannot be read: {exc}") from None
            for name, text in values.items():
                _put(document, fields[name].path, parse(fields[name], text), self._raw)
            try:
                write_atomic(self.path, dumps(document))
            except OSError as exc:
                raise FacadeError(f"the configuration file cannot be written: {exc}") from None
            self._raw = candidate
        self._audit.record(
            "config.saved",
            detail={
                "section": section,
                "fields": sorted(values),
                "file": str(self.path),
                "applies": APPLIES,
            },
        )

    def raw(self) -> dict[str, Any]:
        """A copy of the configuration as it will be after a restart."""
        with self._lock:
            return copy.deepcopy(self._raw)

    def _changed(
        self, section: str, values: Mapping[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        fields = sections(self._raw).get(section)
        if fields is None:
            return self._raw, {"": f"no settings section {section}"}
        errors: dict[str, str] = {}
        candidate = copy.deepcopy(self._raw)
        for name, text in values.items():
            field = fields.get(name)
            if field is None:
                errors[name] = "unknown setting"
                continue
            try:
                _put(candidate, field.path, parse(field, text), self._raw)
            except ValueError as exc:
                errors[name] = str(exc)
        if errors:
            return candidate, errors
        try:
            self._check(candidate)
        except ConfigError as exc:
            name = field_for(exc.key, list(fields.values()))
            return candidate, {name: exc.why if name else f"{exc.key}: {exc.why}"}
        return candidate, {}


def field_for(key: str, fields: list[Field]) -> str:
    """The field a ConfigError key belongs to: itself, the first inside it, or its container."""
    for f in fields:
        if f.key == key:
            return f.name
    for f in fields:
        if f.key.startswith((key + ".", key + "[")):
            return f.name
    for f in sorted(fields, key=lambda f: len(f.key), reverse=True):
        if key.startswith((f.key + ".", f.key + "[")):
            return f.name
    return ""


def _put(document: dict[str, Any], path: ValuePath, value: Any, source: Mapping[str, Any]) -> None:
    """Set (or, for DELETE, remove) the value at path, creating tables on the way.

    A table the document lacks on a path that goes through a list is copied whole
    from `source` (the configuration in force), so the list keeps its other items.
    """
    node: Any = document
    for i, part in enumerate(path[:-1]):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise ValueError("the configuration file does not hold this item")
            node = node[part]
            continue
        if not isinstance(node.get(part), dict | list):
            if any(isinstance(p, int) for p in path[i + 1 :]):
                node[part] = copy.deepcopy(_at(source, path[: i + 1]))
            else:
                node[part] = {}
        node = node[part]
    last = path[-1]
    if is_delete(value):
        if isinstance(node, dict):
            node.pop(last, None)
    else:
        node[last] = value


def _at(source: Mapping[str, Any], path: ValuePath) -> Any:
    node: Any = source
    for part in path:
        node = node[part]
    return node
