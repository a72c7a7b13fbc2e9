"""Reading the [energy] table: a TOML site description becomes a circuit tree and settings."""

from __future__ import annotations

import tomllib

import pytest

from evsite.config_errors import ConfigError
from evsite.energy import AllocationState, Mode, Phase, Session, allocate, parse_energy

SITE = """
[energy]
mode = "dynamic"
imbalance_limit_a = 20

[energy.site]
name = "site contract"
limit_a = 40
metered = true
fallback_a = 16

[[energy.site.feeders]]
id = "b"
name = "feeder B"
limit_a = [63, 63, 50]

[[energy.site.feeders.stations]]
id = "CP01"
phases = 1
wiring = ["L2"]
max_a = 32

[[energy.site.feeders.stations]]
id = "CP02"
wiring = ["L2", "L3", "L1"]
max_a = 16
steps = [6, 8, 10, 13, 16]
priority = 1

[[energy.site.feeders.feeders]]
id = "b1"
limit_a = 25

[[energy.site.feeders.feeders.stations]]
id = "CP03"
max_a = 32
"""


def test_site_description_becomes_a_tree_and_settings() -> None:
    tree, settings = parse_energy(tomllib.loads(SITE))
    assert tree is not None
    assert settings.mode is Mode.DYNAMIC
    assert settings.imbalance_limit_a == 20
    assert [n.id for n in tree.nodes] == ["site", "b", "b1"]
    assert tree.root.limit == (40, 40, 40)
    assert tree.root.fallback == (16, 16, 16)
    assert tree.station("CP01").wiring == (Phase.L2,)
    assert tree.station("CP01").phases == 1
    assert tree.station("CP02").wiring == (Phase.L2, Phase.L3, Phase.L1)
    assert tree.station("CP02").steps == (6, 8, 10, 13, 16)
    assert [tree.nodes[n].id for n in tree.placements["CP03"].path] == ["site", "b", "b1"]
    assert tree.nodes[2].name == "b1"


def test_parsed_site_allocates() -> None:
    tree, settings = parse_energy(tomllib.loads(SITE))
    assert tree is not None
    sessions = [Session(station_id=s) for s in ("CP01", "CP02", "CP03")]
    result = allocate(tree, {"site": (10, 10, 10)}, sessions, settings, AllocationState(), 0)
    assert result.limits["CP02"].amps == 16
    assert all(limit.amps >= 6 for limit in result.limits.values())


def test_no_site_means_no_tree() -> None:
    tree, settings = parse_energy({})
    assert tree is None
    assert settings.mode is Mode.STATIC


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("max_a = 32", 'max_a = "lots"'), "energy.site.feeders[0].stations[0].max_a"),
        (('wiring = ["L2"]', 'wiring = ["L4"]'), "energy.site.feeders[0].stations[0].wiring[0]"),
        (("limit_a = [63, 63, 50]", "limit_a = [63, 63]"), "energy.site.feeders[0].limit_a"),
        (("limit_a = 25", "limit_a = -25"), "energy.site.feeders[0].feeders[0].limit_a"),
        (('id = "b1"', 'ident = "b1"'), "energy.site.feeders[0].feeders[0].ident"),
        (('id = "CP03"', 'id = "CP01"'), "energy.site"),
        (('mode = "dynamic"', 'mode = "eco"'), "energy.mode"),
        (("priority = 1", "priority = 1.5"), "energy.site.feeders[0].stations[1].priority"),
        (("max_a = 16", "max_a = 4"), "energy.site.feeders[0].stations[1].max_a"),
    ],
)
def test_bad_value_names_its_place_in_the_file(edit: tuple[str, str], key: str) -> None:
    text = SITE.replace(edit[0], edit[1], 1)
    assert text != SITE
    with pytest.raises(ConfigError) as caught:
        parse_energy(tomllib.loads(text))
    assert caught.value.key == key
