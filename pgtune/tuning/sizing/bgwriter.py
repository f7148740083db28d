"""The background writer, for write-heavy workloads only (the workload's ``bgwriter`` key).

Under a write-heavy load the buffers the clock sweep is about to reuse are often dirty; a backend
that must evict one writes it itself and its query waits for that write (``buffers_backend``).
The background writer writes them ahead, but PostgreSQL's defaults cap it at 100 pages per 200ms
round, 4 MB/s: far below what an SSD takes, so under an oltp load the backends do most of the
writing. Its rate here comes from the storage class (``bgwriter_write_rate`` in storage.yaml).
Other workloads keep the defaults: reads leave few dirty buffers, and dw's bulk loads (COPY,
CREATE TABLE AS) write through a small ring of their own buffers that the background writer
never cleans. Observed tuning (observed_rules.py) raises these from ``maxwritten_clean`` and the
backends' own writes.
"""

from pgtune.tuning.sizing import Context, Decision
from pgtune.units import KB, format_pg_size

BGWRITER_DELAY = 100  # ms: twice PostgreSQL's rate of rounds, so bursts are met sooner
BGWRITER_MULTIPLIER = 4.0  # clean ahead twice what the default's 2.0 predicts
PAGE = 8 * KB
MAXPAGES_MIN = 100  # PostgreSQL's default


def maxpages_for(rate: int, delay_ms: int) -> int:
    """Pages per round that write ``rate`` bytes per second, in whole hundreds.

    >>> maxpages_for(64 * 1024 * 1024, 100)
    800
    """
    pages = rate * delay_ms // 1000 // PAGE
    return max(MAXPAGES_MIN, pages // 100 * 100)


def bgwriter(ctx: Context) -> list[Decision]:
    wl, st = ctx.workload, ctx.storage
    if not wl.bgwriter:
        return []
    rate = st.bgwriter_write_rate
    pages = maxpages_for(rate, BGWRITER_DELAY)
    return [
        Decision(
            "bgwriter_delay",
            BGWRITER_DELAY,
            f"{wl.name} writes all the time: a round every {BGWRITER_DELAY}ms (default 200ms) "
            "cleans the buffers about to be reused before a backend has to evict them dirty "
            "and wait for the write",
        ),
        Decision(
            "bgwriter_lru_maxpages",
            pages,
            f"up to {pages} pages per round = {format_pg_size(rate)}/s on {st.name} "
            "(storage.yaml); the default 100 pages per 200ms caps the background writer at "
            f"4 MB/s, and under {wl.name} load backends write their own dirty evictions "
            "(pg_stat_bgwriter maxwritten_clean, buffers_backend)",
        ),
        Decision(
            "bgwriter_lru_multiplier",
            BGWRITER_MULTIPLIER,
            f"clean {BGWRITER_MULTIPLIER:g}x the buffers recent rounds needed (default 2): "
            "room for a burst of new dirty pages; it writes only what is about to be reused",
        ),
    ]
