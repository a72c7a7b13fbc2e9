"""The firewall-port helper against the real nftables ruleset, in a network namespace.

The rules of rootfs-overlay/etc/nftables.conf are loaded into a namespace of the
test's own; the helper runs there as it runs on the device, so the kernel itself
says which ports and sources it lets in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.image.conftest import REPO

HELPER = REPO / "rootfs-overlay/usr/libexec/evsite/firewall-port"
RULES = REPO / "rootfs-overlay/etc/nftables.conf"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None,
    reason="needs root, nft and ip to make a network namespace",
)


@pytest.fixture
def netns() -> Iterator[str]:
    """A namespace with the device's ruleset loaded."""
    name = f"evsite-fw-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "nft", "-f", str(RULES)], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def helper(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run firewall-port in the namespace."""
    return subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, str(HELPER), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def elements(ns: str, name: str) -> str:
    """The set's listing, as nft prints it."""
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "list", "set", "inet", "evsite", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split("elements = {", 1)[1].split("}", 1)[0] if "elements" in out else ""


def test_plain_ws_port_opens_and_closes_twice_over(netns: str) -> None:
    assert helper(netns, "open", "8886").returncode == 0
    assert "8886" in elements(netns, "dynamic_tcp")
    assert helper(netns, "close", "8886").returncode == 0
    assert helper(netns, "close", "8886").returncode == 0  # already closed: still fine
    assert "8886" not in elements(netns, "dynamic_tcp")


def test_bms_port_opens_only_for_its_sources_and_a_new_list_replaces_the_old(netns: str) -> None:
    assert helper(netns, "open", "502", "192.168.10.0/24", "10.0.0.5", "fd00::/64").returncode == 0
    assert "192.168.10.0/24" in elements(netns, "bms_v4")
    assert "10.0.0.5" in elements(netns, "bms_v4") and "fd00::/64" in elements(netns, "bms_v6")
    assert helper(netns, "open", "502", "10.9.9.9").returncode == 0
    assert elements(netns, "bms_v4").strip() == "10.9.9.9" and not elements(netns, "bms_v6")
    assert helper(netns, "close", "502").returncode == 0
    assert not elements(netns, "bms_v4").strip()
    # Nothing else ever opened 502 for everyone.
    assert "502" not in elements(netns, "dynamic_tcp")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("open", "22"), "port 22 is not switchable"),
        (("open", "443"), "port 443 is not switchable"),
        (("open", "502"), "none given"),
        (("open", "502", "not-an-ip"), "'not-an-ip' is not an IP address"),
        (("open", "502", "10.0.0.1; flush ruleset"), "is not an IP address"),
        (("open", "8886", "10.0.0.1"), "8886 takes no sources"),
        (("close", "502", "10.0.0.1"), "close takes no sources"),
        (("reload", "502"), "usage"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    netns: str, args: tuple[str, ...], message: str
) -> None:
    assert helper(netns, "open", "502", "10.1.2.3").returncode == 0
    done = helper(netns, *args)
    assert done.returncode == 2 and message in done.stderr
    assert elements(netns, "bms_v4").strip() == "10.1.2.3"
    assert not elements(netns, "dynamic_tcp").strip()
