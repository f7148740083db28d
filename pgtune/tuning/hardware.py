"""What the tuner knows about the machine: memory, CPUs, storage class, and where each came from."""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

StorageClass = Literal["hdd", "ssd", "nvme"]
STORAGE_CLASSES: tuple[StorageClass, ...] = ("hdd", "ssd", "nvme")


@dataclass(frozen=True)
class Hardware:
    memory_bytes: int
    cpus: int
    storage: StorageClass
    memory_source: str
    cpus_source: str
    storage_source: str
    notes: tuple[str, ...] = ()


def with_overrides(
    hw: Hardware,
    *,
    memory: int | None = None,
    cpus: int | None = None,
    storage: StorageClass | None = None,
) -> Hardware:
    """Replace detected values by the user's flags, recording the flag as the source."""
    if memory is not None:
        hw = replace(hw, memory_bytes=memory, memory_source="--memory")
    if cpus is not None:
        hw = replace(hw, cpus=cpus, cpus_source="--cpus")
    if storage is not None:
        hw = replace(hw, storage=storage, storage_source="--storage")
    return hw


def detect(data_dir: Path | None = None, *, root: Path = Path("/")) -> Hardware:
    """Detect this machine's usable memory, CPUs and the storage class under ``data_dir``."""
    raise NotImplementedError  # filled in by the detection work
