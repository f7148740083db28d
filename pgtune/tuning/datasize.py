"""How much data the cluster holds: the size of the databases under the data directory.

shared_buffers is sized to hold the whole database when it fits (sizing/memory.py), so the
tuner measures ``$PGDATA/base`` (every database's tables and indexes; WAL and the small
cluster-wide catalogs in ``global/`` are not data that queries read) when ``--data-dir`` is
given. ``--data-size`` states it instead, for generating on another host.
"""

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataSize:
    bytes: int | None
    source: str
    notes: tuple[str, ...] = ()


NOT_MEASURED = DataSize(None, "not measured (give --data-dir or --data-size)")


def measure(data_dir: Path | None) -> DataSize:
    """The total size of the files under ``data_dir/base``; never raises."""
    if data_dir is None:
        return NOT_MEASURED
    base = data_dir / "base"
    if not base.is_dir():
        return DataSize(
            None,
            f"not measured: {base} is not a directory",
            (f"{data_dir} has no base/ directory: is it a PostgreSQL data directory?",),
        )
    errors: list[OSError] = []
    total = 0
    for root, _dirs, files in os.walk(base, onerror=errors.append):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue  # dropped while we walked (a temp file, a dropped table)
            except OSError as exc:
                errors.append(exc)
    if errors:
        return DataSize(
            None,
            f"not measured: {base} is not readable",
            (
                f"could not read the database size under {base} ({errors[0].strerror}); run as "
                "the postgres user or pass --data-size",
            ),
        )
    return DataSize(total, f"measured under {base}")
