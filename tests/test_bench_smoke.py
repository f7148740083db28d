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


ADVICE_OPTIMALITY = Path(__file__).resolve().parents[1] / "bench" / "advice_optimality" / "run.py"


@pytest.mark.pg
def test_advice_optimality_smoke() -> None:
    """pgtune's mixed and dw configurations and one grid point each boot and run pgbench and the
    analytic set; the report states pgtune's share of the best point and the budget checks."""
    get_pg_binaries(15)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    proc = subprocess.run(
        [sys.executable, str(ADVICE_OPTIMALITY), "--smoke", "-q"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for label in ("read-write:", "select-only:", "analytic:", "of best", "inside the"):
        assert label in proc.stdout


@pytest.mark.pg
@pytest.mark.parametrize("shape", ["dense", "sparse"])
def test_roles_plan_smoke(shape: str) -> None:
    """A synthetic cluster of 200 tables builds, `pgtune roles plan` on it has exactly the changes
    its drift implies (the benchmark checks), and applying them leaves the cluster in sync; on
    the dense shape, `pgtune roles export` writes the same file twice and a plan of it runs."""
    get_pg_binaries(18)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    run = Path(__file__).resolve().parents[1] / "bench" / "roles_plan" / "run.py"
    proc = subprocess.run(
        [sys.executable, str(run), "--smoke", "--shape", shape, "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "pgtune roles plan --format sql" in proc.stdout
    assert ", 0 changes left" in proc.stdout  # the applied plan converged
    if shape == "dense":
        assert "pgtune roles export -o FILE:" in proc.stdout
        assert "the exported policy:" in proc.stdout


@pytest.mark.pg
@pytest.mark.parametrize("shape", ["dense", "sparse"])
def test_audit_scale_smoke(shape: str) -> None:
    """`pgtune audit` writes an HTML and a JSON report of a synthetic cluster of 200 tables,
    and its review covers every login role of the server (the benchmark checks)."""
    get_pg_binaries(18)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    run = Path(__file__).resolve().parents[1] / "bench" / "audit_scale" / "run.py"
    proc = subprocess.run(
        [sys.executable, str(run), "--smoke", "--shape", shape, "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "pgtune audit --format html / json" in proc.stdout
    assert "unreadable: nothing" in proc.stdout


@pytest.mark.pg
def test_observe_effect_smoke() -> None:
    """Stock, hardware-only and observed (`pgtune generate --dsn --observe` taken under load)
    configurations each boot and run pgbench read-write and the analytic set."""
    get_pg_binaries(15)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    run = Path(__file__).resolve().parents[1] / "bench" / "observe_effect" / "run.py"
    proc = subprocess.run(
        [sys.executable, str(run), "--smoke", "-q"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for label in ("read-write", "analytic", "observed (c) vs hardware-only (b)", "targets:"):
        assert label in proc.stdout


BACKEND_MEMORY = Path(__file__).resolve().parents[1] / "bench" / "backend_memory" / "run.py"


@pytest.mark.pg
def test_backend_memory_smoke() -> None:
    """The backend-memory benchmark measures every figure it compares with a budget constant."""
    get_pg_binaries(15)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    proc = subprocess.run(
        [sys.executable, str(BACKEND_MEMORY), "--smoke", "-q"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for label in ("idle backend:", "busy backend", "page tables: +", "JIT: +"):
        assert label in proc.stdout
