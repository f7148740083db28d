"""Writing output files safely: atomically, never over a file without --force, with a backup.

Only a regular file is ever replaced. A device, a FIFO, a socket or a directory at the output
path is refused, ``--force`` or not: renaming over ``/dev/null`` as root would turn it into a
regular file. A symbolic link is refused too (it is not followed: the rename would replace the
link, not its target, and following it lets whoever planted it choose where pgtune writes);
give the path of the file it points to instead. The path is checked before anything is
written and again just before the rename.
"""

import contextlib
import os
import shutil
import stat
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


def check_output(path: Path, *, force: bool = False) -> Path:
    """The checks write_atomic starts with, for commands to run before any work or output: the
    path is a regular file or nothing (an existing one only with ``force``) and its directory
    exists and is writable. Returns the directory."""
    exists = _existing(path) is not None
    if exists and not force:
        raise OutputError(f"{str(path)!r} exists; pass --force to replace it (a backup is kept)")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"directory {str(directory)!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in {str(directory)!r}: permission denied")
    return directory


def write_atomic(path: Path, text: str, *, force: bool = False) -> Path | None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename.

    Returns the backup of the replaced file, if any. On any failure the original file is
    untouched and no temporary file is left behind.
    """
    directory = check_output(path, force=force)
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
        current = _existing(path)  # again: it may have changed while we wrote
        if current is not None and not force:
            raise OutputError(f"{str(path)!r} appeared while writing; pass --force to replace it")
        mode = current.st_mode & 0o7777 if current is not None else 0o644
        os.chmod(tmp, mode)
        backup = None
        if current is not None:
            backup = backup_name(path)
            shutil.copy2(path, backup)
        os.replace(tmp, path)
    except (OSError, OutputError) as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    _fsync_dir(directory)
    return backup


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _existing(path: Path) -> os.stat_result | None:
    """The regular file at ``path`` (None: nothing there); OutputError for anything else.

    >>> _existing(Path("/dev/null"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pgtune.errors.OutputError: output path '/dev/null' is a character device, not a regular ...
    """
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    if stat.S_ISLNK(found.st_mode):
        raise OutputError(
            f"output path {str(path)!r} is a symbolic link (to {os.readlink(path)!r}); "
            "give the path of the file itself"
        )
    if stat.S_ISREG(found.st_mode):
        return found
    kind = next((name for test, name in _KINDS if test(found.st_mode)), "not a regular file")
    raise OutputError(
        f"output path {str(path)!r} is {kind}, not a regular file; refusing to replace it"
    )


def _fsync_dir(directory: Path) -> None:
    # Make the rename itself durable; not possible on every filesystem, which is fine.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
