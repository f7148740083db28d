"""The built wheel carries profiles/ and templates/, so a plain `pip install .` works anywhere."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_data_and_generates_from_any_directory(tmp_path: Path) -> None:
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-v",  # shows the build backend's warnings
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    # setuptools' deprecations (license table) and "package would be ignored" (data directories
    # missing from `packages`) would become errors in a later setuptools
    assert "Warning" not in build.stdout + build.stderr, build.stdout + build.stderr
    wheel = next((tmp_path / "dist").glob("pgtune-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for shipped in (
            "pgtune/profiles/workloads.yaml",
            "pgtune/profiles/small.yaml",
            "pgtune/templates/postgresql.conf.j2",
            "pgtune/parameters.yaml",
            "pgtune/managers.yaml",
            "pgtune/tuning/queries/settings.sql",
        ):
            assert shipped in names
        for directory in ("tuning/queries", "access/catalog/queries", "audit/queries"):
            assert any(n.startswith(f"pgtune/{directory}/") and n.endswith(".sql") for n in names)
        zf.extractall(tmp_path / "site")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pgtune, sys; print(pgtune.__file__, file=sys.stderr);"
            "from pgtune.cli.app import main; sys.argv = ['pgtune', 'generate', '-q', "
            "'--memory', '8GB', '--cpus', '2', '--storage', 'ssd', '--pg-version', '17']; main()",
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert str(tmp_path / "site") in out.stderr  # the wheel's copy ran, not the checkout
    assert "shared_buffers = 2GB" in out.stdout
