"""Output files: only a regular file is ever replaced, --force or not; nothing is written when
the path is a device, a FIFO, a socket, a directory or a symbolic link."""

import os
import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pgtune import files
from pgtune.cli.app import app
from pgtune.errors import OutputError

GENERATE = ["generate", "--memory", "4GB", "--cpus", "2", "--storage", "ssd", "--pg-version", "17"]


def _no_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to create, copy or rename a file fails the test loudly, so a regression can
    never touch the path under test (even /dev/null)."""

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("write_atomic wrote something before refusing")

    monkeypatch.setattr(files.tempfile, "mkstemp", forbidden)
    monkeypatch.setattr(files.os, "replace", forbidden)
    monkeypatch.setattr(files.shutil, "copy2", forbidden)


def test_a_fifo_is_refused_even_with_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    _no_writes(monkeypatch)
    for force in (False, True):
        with pytest.raises(OutputError, match="is a FIFO, not a regular file") as caught:
            files.write_atomic(fifo, "x", force=force)
        assert caught.value.exit_code == 4
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["out.fifo"]


def test_dev_null_is_refused_before_anything_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    before = os.lstat("/dev/null")
    _no_writes(monkeypatch)
    with pytest.raises(OutputError, match="'/dev/null' is a character device"):
        files.write_atomic(Path("/dev/null"), "x", force=True)
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_socket_and_a_directory_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        _no_writes(monkeypatch)
        with pytest.raises(OutputError, match="is a socket"):
            files.write_atomic(path, "x", force=True)
    with pytest.raises(OutputError, match="is a directory"):
        files.write_atomic(tmp_path, "x", force=True)


def test_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "real.conf"
    target.write_text("original\n")
    link = tmp_path / "link.conf"
    link.symlink_to(target)
    with pytest.raises(OutputError, match=r"is a symbolic link .*give the path of the file"):
        files.write_atomic(link, "new\n", force=True)
    assert link.is_symlink() and target.read_text() == "original\n"
    assert sorted(os.listdir(tmp_path)) == ["link.conf", "real.conf"]
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="symbolic link"):
        files.write_atomic(dangling, "x")
    assert not (tmp_path / "nowhere").exists()


def test_a_regular_file_is_still_replaced_with_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "out.conf"
    path.write_text("old\n")
    path.chmod(0o640)
    backup = files.write_atomic(path, "new\n", force=True)
    assert path.read_text() == "new\n" and (path.stat().st_mode & 0o777) == 0o640
    assert backup is not None and backup.read_text() == "old\n"


def test_every_command_refuses_a_fifo_with_exit_4(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    result = CliRunner().invoke(app, [*GENERATE, "-o", str(fifo), "--force"])
    assert result.exit_code == 4, result.output
    assert "is a FIFO, not a regular file" in result.stderr and "Traceback" not in result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["out.fifo"]
