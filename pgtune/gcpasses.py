"""Fewer cyclic-GC passes while building large, acyclic data (catalog snapshots, plans, reviews).

Hundreds of thousands of small model objects make Python's cyclic collector run full passes over
a growing heap: about half the CPU of ``roles plan`` and two thirds of ``audit`` at 20k tables
(bench/RESULTS.md). The objects hold no reference cycles, so collecting far less often loses
nothing. The thresholds are process-wide: enter this from the main thread only, around the whole
operation (the audit's worker threads run inside it).
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*old)
