"""Register maps of the supported meter families, one module per family."""

from __future__ import annotations

from evsite.modbus.maps import abb_b23, em24, iem3155, sdm630
from evsite.modbus.registers import RegisterMap, check_map

#: Family name (as written in the config) → register map.
FAMILIES: dict[str, RegisterMap] = {m.MAP.family: m.MAP for m in (sdm630, iem3155, em24, abb_b23)}

for _map in FAMILIES.values():
    check_map(_map)


def get_map(family: str) -> RegisterMap:
    """The register map for a family name; ValueError listing the known ones otherwise."""
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(
            f"unknown meter family {family!r}; known: {', '.join(sorted(FAMILIES))}"
        ) from None
