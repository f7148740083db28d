"""The CLI latency benchmark still runs: every command succeeds and psycopg stays unimported.

Timing targets live in the benchmark (``bench/cli_latency/run.py``), never in tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "bench" / "cli_latency" / "run.py"


def test_cli_latency_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "psycopg import check" in proc.stdout
