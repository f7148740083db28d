"""Every benchmark still runs in its ``--smoke`` mode: its commands succeed and its report says
what it measured. The CLI latency benchmark also checks that psycopg stays unimported.

Timing targets live in the benchmarks (``bench/``), never in tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import get_pg_binaries

BENCH = Path(__file__).resolve().parents[1] / "bench"


def smoke(benchmark: str, *args: str, timeout: int = 240) -> str:
    """``bench/<benchmark>/run.py --smoke ARGS``: its stdout, once it exited 0."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / benchmark / "run.py"), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def test_cli_latency_smoke() -> None:
    assert "psycopg import check" in smoke("cli_latency", timeout=300)


@pytest.mark.pg
def test_pgbench_effect_smoke() -> None:
    """Stock, pgtune and PGTune configurations each boot and run pgbench and the analytic set."""
    get_pg_binaries(15)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    out = smoke("pgbench_effect", "-q")
    for label in ("read-write", "select-only", "analytic", "modelled peak"):
        assert label in out


@pytest.mark.pg
def test_advice_optimality_smoke() -> None:
    """pgtune's mixed and dw configurations and one grid point each boot and run pgbench and the
    analytic set; the report states pgtune's share of the best point and the budget checks."""
    get_pg_binaries(15)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    out = smoke("advice_optimality", "-q")
    for label in ("read-write:", "select-only:", "analytic:", "of best", "inside the"):
        assert label in out


@pytest.mark.pg
@pytest.mark.parametrize("shape", ["dense", "sparse"])
def test_roles_plan_smoke(shape: str) -> None:
    """A synthetic cluster of 200 tables builds, `pgtune roles plan` on it has exactly the changes
    its drift implies (the benchmark checks), and applying them leaves the cluster in sync; on
    the dense shape, `pgtune roles export` writes the same file twice and a plan of it runs."""
    get_pg_binaries(18)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    out = smoke("roles_plan", "--shape", shape, "-q", timeout=120)
    assert "pgtune roles plan --format sql" in out
    assert ", 0 changes left" in out  # the applied plan converged
    if shape == "dense":
        assert "pgtune roles export -o FILE:" in out
        assert "the exported policy:" in out


@pytest.mark.pg
@pytest.mark.parametrize("shape", ["dense", "sparse"])
def test_audit_scale_smoke(shape: str) -> None:
    """`pgtune audit` writes an HTML and a JSON report of a synthetic cluster of 200 tables,
    and its review covers every login role of the server (the benchmark checks)."""
    get_pg_binaries(18)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    out = smoke("audit_scale", "--shape", shape, "-q", timeout=120)
    assert "pgtune audit --format html / json" in out
    assert "unreadable: nothing" in out


@pytest.mark.pg
def test_observe_effect_smoke() -> None:
    """Stock, hardware-only and observed (`pgtune generate --dsn --observe` taken under load)
    configurations each boot and run pgbench read-write and the analytic set."""
    get_pg_binaries(15)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    out = smoke("observe_effect", "-q")
    for label in ("read-write", "analytic", "observed (c) vs hardware-only (b)", "targets:"):
        assert label in out


@pytest.mark.pg
def test_backend_memory_smoke() -> None:
    """The backend-memory benchmark measures every figure it compares with a budget constant."""
    get_pg_binaries(15)  # fails (or skips with PGTUNE_ALLOW_SKIP_PG=1) like the other pg tests
    out = smoke("backend_memory", "-q")
    for label in ("idle backend:", "busy backend", "page tables: +", "JIT: +"):
        assert label in out
