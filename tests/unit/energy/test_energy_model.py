"""Validation of circuit trees, stations and settings: bad values name their key."""

from __future__ import annotations

import pytest

from evsite.config_errors import ConfigError
from evsite.energy import CircuitTree, Node, Phase, Settings, StationSpec, uniform


def test_station_defaults_to_standard_wiring() -> None:
    assert StationSpec(id="a", max_a=16).wiring == (Phase.L1, Phase.L2, Phase.L3)
    assert StationSpec(id="a", max_a=16, phases=1).wiring == (Phase.L1,)


@pytest.mark.parametrize(
    ("kwargs", "key", "why"),
    [
        ({"phases": 2}, "stations.a.phases", "must be 1 or 3"),
        ({"phases": 1, "wiring": (Phase.L1, Phase.L2)}, "stations.a.wiring", "needs 1 phases"),
        ({"wiring": (Phase.L1, Phase.L1, Phase.L2)}, "stations.a.wiring", "appears twice"),
        ({"min_a": 0}, "stations.a.min_a", "> 0"),
        ({"max_a": 5}, "stations.a.max_a", ">= min_a"),
        ({"steps": (20, 25)}, "stations.a.steps", "none lies between"),
        ({"steps": (6, 6)}, "stations.a.steps", "distinct"),
    ],
)
def test_bad_station_names_its_key(kwargs: dict[str, object], key: str, why: str) -> None:
    args: dict[str, object] = {"id": "a", "max_a": 16, **kwargs}
    with pytest.raises(ConfigError, match=why) as caught:
        StationSpec(**args)  # type: ignore[arg-type]
    assert caught.value.key == key


def test_steps_define_floor_and_ceiling() -> None:
    spec = StationSpec(id="a", min_a=7, max_a=15, steps=(6, 8, 10, 13, 16))
    assert (spec.floor_a, spec.ceiling_a) == (8, 13)
    assert spec.round_down(12.9) == 10
    assert spec.round_down(7.9) == 0
    assert spec.round_up(10.5) == 13


def test_negative_node_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="L2 must be a finite number") as caught:
        Node(id="b", name="feeder B", limit=(10, -1, 10))
    assert caught.value.key == "circuit.b.limit"


def test_duplicate_node_id_is_refused() -> None:
    child = Node(id="site", name="twin", limit=uniform(10))
    with pytest.raises(ConfigError, match="node id 'site' is used twice"):
        CircuitTree(Node(id="site", name="site", limit=uniform(10), children=(child,)))


def test_duplicate_station_id_is_refused() -> None:
    spec = StationSpec(id="a", max_a=16)
    b = Node(id="b", name="b", limit=uniform(10), stations=(spec,))
    with pytest.raises(ConfigError, match="station id 'a' is used twice"):
        CircuitTree(
            Node(id="site", name="site", limit=uniform(10), stations=(spec,), children=(b,))
        )


def test_tree_indexes_paths_from_the_site_down() -> None:
    spec = StationSpec(id="a", max_a=16)
    sub = Node(id="b1", name="b1", limit=uniform(10), stations=(spec,))
    b = Node(id="b", name="b", limit=uniform(10), children=(sub,))
    tree = CircuitTree(Node(id="site", name="site", limit=uniform(10), children=(b,)))
    assert [tree.nodes[n].id for n in tree.placements["a"].path] == ["site", "b", "b1"]
    assert tree.stations_under("b") == ["a"]


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"mode": "eco"}, "energy.mode"),
        ({"imbalance_limit_a": 4}, "energy.imbalance_limit_a"),
        ({"rotation_period_s": 0}, "energy.rotation_period_s"),
        ({"giveback_recover_a": 2.5}, "energy.giveback_recover_a"),
        ({"dead_band_a": -1}, "energy.dead_band_a"),
        ({"raise_hold_s": "soon"}, "energy.raise_hold_s"),
        ({"raise_step_a": 0}, "energy.raise_step_a"),
    ],
)
def test_bad_setting_names_its_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(**kwargs)  # type: ignore[arg-type]
    assert caught.value.key == key
