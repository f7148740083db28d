"""Writing output files safely: atomically, never over a file without --force, with a backup."""

import contextlib
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from pgtune.errors import OutputError


def backup_name(path: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.{stamp}.bak")
    n = 1
    while candidate.exists():  # two runs within a second keep both backups
        candidate = path.with_name(f"{path.name}.{stamp}-{n}.bak")
        n += 1
    return candidate


def write_atomic(path: Path, text: str, *, force: bool = False) -> Path | None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename.

    Returns the backup of the replaced file, if any. On any failure the original file is
    untouched and no temporary file is left behind.
    """
    if path.is_dir():
        raise OutputError(f"output path {str(path)!r} is a directory")
    exists = path.exists()
    if exists and not force:
        raise OutputError(f"{str(path)!r} exists; pass --force to replace it (a backup is kept)")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"directory {str(directory)!r} does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write in {str(directory)!r}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        mode = path.stat().st_mode & 0o7777 if exists else 0o644
        os.chmod(tmp, mode)
        backup = None
        if exists:
            backup = backup_name(path)
            shutil.copy2(path, backup)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    _fsync_dir(directory)
    return backup


def _fsync_dir(directory: Path) -> None:
    # Make the rename itself durable; not possible on every filesystem, which is fine.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
