"""Golden files: a few hardware inputs and the exact file pgtune renders for them.

The files under tests/golden/ were reviewed by hand. After a deliberate change to a rule,
regenerate with PGTUNE_UPDATE_GOLDEN=1 and review the diff like any other code change.
"""

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pgtune.cli.app import app

GOLDEN = Path(__file__).parent / "golden"
# file name -> the flags that produce it; every case pins the hardware and the server build.
CASES = {
    "small-4gb-2cpu-hdd-web-pg13.conf": "--memory 4GB --cpus 2 --storage hdd --workload web "
    "--pg-version 13",
    "medium-16gb-4cpu-ssd-oltp-pg15.conf": "--memory 16GB --cpus 4 --storage ssd --workload oltp "
    "--pg-version 15",
    "large-64gb-16cpu-nvme-dw-pg17.conf": "--memory 64GB --cpus 16 --storage nvme --workload dw "
    "--pg-version 17",
    "medium-32gb-8cpu-ssd-mixed-pg18-full.conf": "--memory 32GB --cpus 8 --storage ssd "
    "--workload mixed --pg-version 18 --full --ssl-cert server.crt --ssl-key server.key",
    "medium-16gb-4cpu-ssd-web-pg16.json": "--memory 16GB --cpus 4 --storage ssd --workload web "
    "--pg-version 16 --format json",
}


def _args(name: str) -> list[str]:
    args = CASES[name].split()
    major = args[args.index("--pg-version") + 1]
    return [*args, "--pg-config", f"data/pg_config/pg_config-{major}"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_output_matches_reviewed_golden_file(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in pg_config (relative path: the output names it) makes the build deterministic.
    monkeypatch.chdir(Path(__file__).parent)
    result = CliRunner().invoke(app, ["generate", "-q", *_args(name)])
    assert result.exit_code == 0, result.output
    path = GOLDEN / name
    if os.environ.get("PGTUNE_UPDATE_GOLDEN") == "1":
        # Never a pass: comparing with the file just written would prove nothing.
        path.write_text(result.stdout)
        pytest.skip(f"wrote {path}: review the diff (git diff tests/golden/), then run again")
    assert result.stdout == path.read_text()
