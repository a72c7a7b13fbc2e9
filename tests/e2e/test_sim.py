"""`evsite sim`, the command behind `make run`, as a newcomer runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_sim_starts_stations_that_charge_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evsite",
            "sim",
            "--stations",
            "3",
            "--data-dir",
            str(tmp_path),
            "--ocpp-port",
            "0",
            "--ui-port",
            "0",
            "--bind",
            "127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "evsite sim exited early:\n" + "".join(banner)
            banner.append(line)
            if "stop with Ctrl-C" in line:
                break
        text = "".join(banner)
        assert "OCPP stations:  wss://127.0.0.1:" in text
        assert "3 stations" in text
        # All three stations connect and boot: poll the store through the CLI.
        deadline = time.monotonic() + 60
        booted: list[str] = []
        while time.monotonic() < deadline:
            listing = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "evsite",
                    "station",
                    "list",
                    "--json",
                    "--data-dir",
                    str(tmp_path),
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            booted = [s["id"] for s in json.loads(listing.stdout)["enrolled"] if s["last_boot_at"]]
            if len(booted) == 3:
                break
            time.sleep(0.2)
        assert booted == ["sim-001", "sim-002", "sim-003"]
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0, rest
        assert "evsite sim stopped." in rest
        assert "Traceback" not in text + rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
