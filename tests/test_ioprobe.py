"""--probe-io: the classification as a pure function of given latencies, and the probe run once
for real on a temporary directory (figures or an honest "cannot probe", never a guess)."""

import errno
import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pgtune.cli.app import app
from pgtune.tuning import ioprobe
from pgtune.tuning.ioprobe import classify, figures_of, probe
from pgtune.tuning.request import TuningRequest, detect_hardware


def test_latencies_classify_by_their_median() -> None:
    assert classify([6000.0] * 80 + [12000.0] * 20)[0] == "hdd"
    assert classify([2000.0] * 100)[0] == "hdd"
    assert classify([1999.0] * 100)[0] == "ssd"
    assert classify([600.0] * 100)[0] == "ssd"  # a cloud block volume
    assert classify([101.0] * 100)[0] == "ssd"  # SATA flash
    assert classify([100.0] * 100)[0] == "nvme"
    assert classify([15.0] * 100)[0] == "nvme"
    # a few slow outliers do not make an NVMe disk an hdd: the median decides
    assert classify([50.0] * 90 + [20000.0] * 10)[0] == "nvme"


def test_what_cannot_be_classified_is_said() -> None:
    storage, why = classify([3.0] * 500)
    assert storage is None and "served from memory" in why
    storage, why = classify([80.0] * 10)
    assert storage is None and "too few" in why


def test_figures_are_nearest_rank_percentiles() -> None:
    f = figures_of([float(v) for v in range(1, 101)], 1.2, 128 * 2**20)
    assert (f.reads, f.p50_us, f.p90_us, f.p99_us) == (100, 50.0, 90.0, 99.0)
    assert "median 50 us, p90 90 us, p99 99 us" in f.text()


def test_the_probe_runs_for_real_on_a_temporary_directory(tmp_path: Path) -> None:
    start = time.monotonic()
    result = probe(tmp_path)
    elapsed = time.monotonic() - start
    assert elapsed < 6, elapsed  # bounded: 1.5 s of writes, 1.5 s of reads, an fsync
    assert list(tmp_path.iterdir()) == []  # nothing left behind
    if result.figures is None:
        # tmpfs, no O_DIRECT, a full disk: said, not guessed
        assert result.storage is None and result.source.startswith("cannot probe")
        return
    f = result.figures
    assert 50 <= f.reads <= ioprobe.READS_MAX
    assert 0 < f.p50_us <= f.p90_us <= f.p99_us
    assert ioprobe.MIN_FILE <= f.file_bytes <= ioprobe.PROBE_FILE
    assert result.storage == classify([f.p50_us] * 100)[0]
    assert f"median {ioprobe._us(f.p50_us)}" in result.source


def test_a_filesystem_without_o_direct_is_not_classified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def refuse_direct(path: object, flags: int, *args: object) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse_direct)
    monkeypatch.setattr(ioprobe, "_fstype", lambda path: "ext4")
    result = probe(tmp_path)
    assert result.storage is None and result.figures is None
    assert "does not support O_DIRECT" in result.source
    monkeypatch.setattr(ioprobe, "_fstype", lambda path: "tmpfs")
    assert "in memory" in probe(tmp_path).source


def test_a_nearly_full_filesystem_is_not_filled(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    result = probe(tmp_path, file_bytes=free)  # would need 4x the free space
    assert result.storage is None and "free, less than 4x" in result.source


def test_the_probe_replaces_sysfs_unless_storage_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured = ioprobe.ProbeResult("hdd", None, "probe of x: ...; hdd: slow", str(tmp_path), "slow")
    monkeypatch.setattr(ioprobe, "probe", lambda where: measured)
    hw = detect_hardware(TuningRequest(data_dir=tmp_path, probe_io=True))
    assert hw.storage == "hdd" and hw.storage_source == f"--probe-io of {tmp_path}: slow"
    assert hw.io_probe is measured
    hw = detect_hardware(TuningRequest(data_dir=tmp_path, probe_io=True, storage="nvme"))
    assert hw.storage == "nvme" and hw.storage_source == "--storage"
    failed = ioprobe.ProbeResult(None, None, "cannot probe x: tmpfs", str(tmp_path))
    monkeypatch.setattr(ioprobe, "probe", lambda where: failed)
    hw = detect_hardware(TuningRequest(data_dir=tmp_path, probe_io=True))
    assert hw.io_probe is failed and hw.storage_source != "--probe-io"
    assert any("cannot probe x: tmpfs; the storage class from sysfs is kept" in n for n in hw.notes)


def test_detect_probe_io_reports_the_figures(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["detect", "--probe-io", "--data-dir", str(tmp_path), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["io_probe"]
    assert doc["path"] == str(tmp_path)
    if doc["storage"] is not None:
        assert doc["p50_us"] > 0 and doc["reads"] >= 50
    else:
        assert doc["source"].startswith("cannot probe") or "not classified" in doc["source"]
