"""The CLI latency benchmark still runs: every command succeeds and psycopg stays unimported.

Timing targets live in the benchmark (``bench/cli_latency/run.py``), never in tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import get_pg_binaries

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


PGBENCH_EFFECT = Path(__file__).resolve().parents[1] / "bench" / "pgbench_effect" / "run.py"


@pytest.mark.pg
def test_pgbench_effect_smoke() -> None:
    """Stock, pgtune and PGTune configurations each boot and run pgbench and the analytic set."""
    get_pg_binaries(15)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    proc = subprocess.run(
        [sys.executable, str(PGBENCH_EFFECT), "--smoke", "-q"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for label in ("read-write", "select-only", "analytic", "modelled peak"):
        assert label in proc.stdout
