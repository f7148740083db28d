"""Observed tuning: the hardware recommendation refined by what the server did in a window.

One pure function, ``adjust(recommendation, observed)``, applied after the hardware rules. Each
setting it changes gets a reason that cites the observed figure; every change is checked
against the same memory budget (``Budget.peak <= Budget.limit``). Per-role work_mem and
per-table autovacuum settings are statements (``ALTER ROLE`` / ``ALTER TABLE``), not
postgresql.conf lines.
"""

import math
from dataclasses import dataclass, replace

from pgtune.names import shown
from pgtune.tuning.budget import Budget
from pgtune.tuning.health import HIT_RATIO_MIN, MIN_BLOCK_ACCESSES
from pgtune.tuning.observe import Observed, StatementStats, TableStats
from pgtune.tuning.recommend import Recommendation
from pgtune.tuning.settings import Setting, to_setting
from pgtune.tuning.sizing import Decision
from pgtune.tuning.sizing.bgwriter import BGWRITER_MULTIPLIER
from pgtune.tuning.sizing.memory import SHARED_BUFFERS_DATA_MAX
from pgtune.tuning.sizing.wal import WAL_DISK_SHARE, round_disk_share
from pgtune.tuning.tempfiles import TempStatement
from pgtune.units import GB, KB, MB, format_pg_duration, format_pg_size, human_size, nice_size

# max_wal_size: WAL of one checkpoint_timeout x (1 + completion target), with this headroom for
# peaks above the window's average.
WAL_HEADROOM = 1.25
# An in-memory sort or hash takes about this much more than the temporary file it wrote.
SPILL_TO_MEMORY = 2.0
CONNECTION_USE_MAX = 0.80
# Per-table autovacuum: tables of at least this many rows, changing at least this share of their
# rows per hour ("hot"), or large with any changes.
TABLE_ROWS_MIN = 10_000
HOT_SHARE_PER_HOUR = 0.10
LARGE_ROWS = 1_000_000
SHARED_BUFFERS_GROWTH = 1.5
# Background writer: backends writing more than this many buffers themselves (or the bgwriter
# stopping at its cap) raise bgwriter_lru_maxpages to the observed dirty evictions per round x2.
BACKEND_WRITES_MIN = 1000
BGWRITER_PEAK = 2.0
BGWRITER_MAXPAGES_MAX = 10_000  # 80MB per round: beyond it the disk, not the cap, is the limit


@dataclass(frozen=True)
class RoleSetting:
    role: str
    name: str
    value: str
    reason: str


@dataclass(frozen=True)
class TableSetting:
    schema: str
    table: str
    options: tuple[tuple[str, str], ...]
    reason: str


@dataclass(frozen=True)
class Adjusted:
    recommendation: Recommendation
    changed: tuple[str, ...]
    roles: tuple[RoleSetting, ...]
    tables: tuple[TableSetting, ...]
    findings: tuple[str, ...]  # what each rule saw, adjusted or not


def _bytes(s: Setting) -> int:
    unit = {"kB": KB, "8kB": 8 * KB, "MB": MB}[s.unit or ""]
    return int(s.setting) * unit


def _seconds(s: Setting) -> float:
    return int(s.setting) * {"ms": 0.001, "s": 1.0, "min": 60.0}[s.unit or "s"]


def _duration(seconds: float) -> str:
    """
    >>> _duration(15), _duration(300), _duration(5400)
    ('15 s', '5.0 min', '90.0 min')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _round_up(nbytes: float, large: int = GB) -> int:
    """Up to what a person writes: whole GB from 4GB, 64MB steps from 64MB, else MB.

    >>> format_pg_size(_round_up(5.2 * GB)), format_pg_size(_round_up(100 * MB))
    ('6GB', '128MB')
    """
    step = large if nbytes >= 4 * GB else 64 * MB if nbytes >= 64 * MB else MB
    return max(step, math.ceil(nbytes / step) * step)


class _Work:
    """The recommendation being adjusted."""

    def __init__(self, rec: Recommendation) -> None:
        self.rec = rec
        self.settings = {s.name: s for s in rec.settings}
        self.budget = rec.budget
        self.changed: list[str] = []
        self.findings: list[str] = []

    def get(self, name: str) -> Setting | None:
        return self.settings.get(name)

    def set(
        self, name: str, value: int | float | bool | str, reason: str, section: str = "wal"
    ) -> None:
        old = self.settings.get(name)
        section = old.section if old else section
        self.settings[name] = to_setting(
            Decision(name, value, reason), self.rec.context.facts, section
        )
        if name not in self.changed:
            self.changed.append(name)

    def fits(self, budget: Budget) -> bool:
        return budget.peak <= budget.limit


def _wal(w: _Work, obs: Observed) -> None:
    current, timeout = w.get("max_wal_size"), w.get("checkpoint_timeout")
    if current is None or timeout is None:
        return
    if obs.wal_bytes is None:
        w.findings.append("max_wal_size: the WAL rate could not be read; hardware rule kept")
        return
    target = w.get("checkpoint_completion_target")
    completion = float(target.setting) if target else 0.9
    rate = obs.wal_bytes / obs.window
    per_timeout = rate * _seconds(timeout)
    needed = per_timeout * (1 + completion) * WAL_HEADROOM
    checkpoints = ""
    if obs.checkpoints_requested is not None:
        checkpoints = (
            f"; {obs.checkpoints_requested} requested, {obs.checkpoints_timed} timed "
            f"checkpoints in {_duration(obs.window)}"
        )
    every = format_pg_duration(int(_seconds(timeout) * 1000))
    seen = (
        f"observed WAL {human_size(rate * 60)}/min over {_duration(obs.window)} = "
        f"{human_size(per_timeout)} per checkpoint_timeout {every}{checkpoints}"
    )
    have = _bytes(current)
    if needed <= have:
        w.findings.append(f"max_wal_size {current.value} kept: {seen}")
        return
    value = _round_up(needed)
    disk = w.rec.context.hardware.wal_disk_bytes
    why = (
        f"{seen}: max_wal_size {format_pg_size(value)} keeps checkpoints timed (WAL per "
        f"checkpoint_timeout x (1 + checkpoint_completion_target {completion:g}) x "
        f"{WAL_HEADROOM:g})"
    )
    if disk is not None:
        cap = round_disk_share(int(disk * WAL_DISK_SHARE))
        if value > cap:
            value = max(have, cap)
            why = (
                f"{seen}: needs {human_size(needed)}, capped at {format_pg_size(value)} = "
                f"{WAL_DISK_SHARE:.0%} of pg_wal's filesystem ({human_size(disk)}); requested "
                "checkpoints will remain: give WAL more disk"
            )
    else:
        why += (
            f"; pg_wal's filesystem not measured: it must hold {human_size(value / WAL_DISK_SHARE)}"
        )
    if value > have:
        w.set("max_wal_size", value, why)
        w.findings.append(f"max_wal_size {current.value} -> {format_pg_size(value)}: {seen}")


def _spilling(obs: Observed) -> list[StatementStats]:
    return [
        s
        for s in obs.statements or ()
        if TempStatement(s.query, s.role, s.database, s.calls, s.temp_bytes).memory == "work_mem"
    ]


def _work_mem(w: _Work, obs: Observed) -> list[RoleSetting]:
    current = w.get("work_mem")
    if current is None or obs.statements is None:
        if obs.temp_files:
            w.findings.append(
                f"work_mem: {obs.temp_files} temporary files ({human_size(obs.temp_bytes)}) in "
                "the window, source unknown without pg_stat_statements: not sized from them"
            )
        return []
    spills = _spilling(obs)
    if not spills:
        w.findings.append(f"work_mem {current.value} kept: no statement spilled in the window")
        return []
    have = _bytes(current)
    need_by_role: dict[str, tuple[int, StatementStats]] = {}
    for s in spills:
        need = _round_up(s.temp_bytes / s.calls * SPILL_TO_MEMORY)
        role = s.role or ""
        if role not in need_by_role or need > need_by_role[role][0]:
            need_by_role[role] = (need, s)
    need_all = max(n for n, _ in need_by_role.values())
    if need_all <= have:
        w.findings.append(f"work_mem {current.value} kept: the spills need less")
        return []

    def cite(s: StatementStats, need: int) -> str:
        label = TempStatement(s.query, s.role, s.database, s.calls, s.temp_bytes).label()
        return (
            f"{label} wrote {human_size(s.temp_bytes / s.calls)} of temporary files per call "
            f"({s.calls} calls in {_duration(obs.window)}): work_mem {format_pg_size(need)} "
            f"(x{SPILL_TO_MEMORY:g}) keeps it in memory"
        )

    b = w.budget
    roles = [r for r in need_by_role if r]
    if len(need_by_role) > 1 or not roles:
        trial = replace(b, work_mem=need_all)
        if w.fits(trial):
            _, s = max(need_by_role.values(), key=lambda p: p[0])
            w.budget = trial
            w.set("work_mem", need_all, f"{cite(s, need_all)}; {trial.summary()}")
            w.findings.append(f"work_mem {current.value} -> {format_pg_size(need_all)} (global)")
            return []
    # per role: its peak sessions at once run the operations of the model with the higher value
    out: list[RoleSetting] = []
    spare = b.limit - b.peak
    per_session = b.operations_per_query * b.hash_mem_multiplier
    for role in roles:
        need, s = need_by_role[role]
        sessions = max(1, min(obs.peak_by_role.get(role, 1), b.active_sessions))
        extra = sessions * per_session * (need - have)
        fitted = need
        if extra > spare:  # make room: the statements that did not spill need less
            floor = w.rec.context.workload.work_mem_min
            lowered = (have - math.ceil((extra - spare) / b.query_slots)) // MB * MB
            if lowered >= floor and lowered < have:
                trial = replace(w.budget, work_mem=lowered)
                spare = trial.limit - trial.peak
                w.budget = trial
                w.set(
                    "work_mem",
                    lowered,
                    f"{format_pg_size(have)} lowered to {format_pg_size(lowered)} to make room "
                    f"for role {shown(role)}'s work_mem in the budget: no other statement spilled "
                    f"in the {_duration(obs.window)} observed; {trial.summary()}",
                )
                have_global = lowered
                extra = sessions * per_session * (need - have_global)
            if extra > spare:
                fitted = max(have, int(have + spare / (sessions * per_session)) // MB * MB)
        if fitted <= have:
            w.findings.append(f"work_mem for role {shown(role)}: no memory left in the budget")
            continue
        spare -= int(sessions * per_session * (fitted - have))
        reason = (
            f"{cite(s, need)}; only this role spills: {sessions} session(s) of it at once x "
            f"{b.operations_per_query} operations x hash_mem_multiplier "
            f"{b.hash_mem_multiplier:g} fit the budget's spare memory"
        )
        if fitted < need:
            reason += f" up to {format_pg_size(fitted)} only (the spill shrinks, not gone)"
        out.append(RoleSetting(role, "work_mem", format_pg_size(fitted), reason))
        w.findings.append(f"work_mem for role {shown(role)} -> {format_pg_size(fitted)}")
    return out


def _tables(w: _Work, obs: Observed) -> list[TableSetting]:
    if obs.tables is None:
        return []
    default = w.get("autovacuum_vacuum_scale_factor")
    scale = float(default.setting) if default else 0.2
    out = []
    for t in obs.tables:
        out += _table(t, obs.window, scale)
    if out:
        w.findings.append(f"per-table autovacuum for {len(out)} table(s)")
    return out


def _table(t: TableStats, window: float, scale: float) -> list[TableSetting]:
    if t.live_rows < TABLE_ROWS_MIN or t.changes <= 0:
        return []
    per_hour = t.changes / window * 3600
    hot = per_hour >= HOT_SHARE_PER_HOUR * t.live_rows
    if not hot and t.live_rows < LARGE_ROWS:
        return []
    # a fifth of the global scale factor for a hot or very large table, half for a large one
    share = 5 if hot or t.live_rows >= 10 * LARGE_ROWS else 2
    wanted = max(0.001, round(scale / share, 3))
    if wanted >= scale:
        return []
    for option in t.options or ():
        name, _, value = option.partition("=")
        if name == "autovacuum_vacuum_scale_factor":
            try:
                if float(value) <= wanted:
                    return []
            except ValueError:
                pass
    why = (
        f"{t.live_rows} rows, {t.changes} updated or deleted in {_duration(window)} "
        f"({per_hour / t.live_rows:.0%} of the table per hour"
        f"{', hot' if hot else ''}): autovacuum_vacuum_scale_factor {scale:g} waits for "
        f"{int(scale * t.live_rows)} dead rows; {wanted:g} vacuums every "
        f"{int(wanted * t.live_rows)}"
    )
    options = (
        ("autovacuum_vacuum_scale_factor", f"{wanted:g}"),
        ("autovacuum_analyze_scale_factor", f"{wanted / 2:g}"),
    )
    return [TableSetting(t.schema, t.name, options, why)]


def _connections(w: _Work, obs: Observed) -> None:
    current = w.get("max_connections")
    if current is None or obs.peak_sessions is None:
        return
    limit = int(current.setting)
    seen = f"peak {obs.peak_sessions} client sessions in {obs.samples} samples"
    if obs.peak_sessions <= CONNECTION_USE_MAX * limit:
        w.findings.append(f"max_connections {limit} kept: {seen}")
        return
    wanted = math.ceil(obs.peak_sessions / CONNECTION_USE_MAX)
    trial = replace(w.budget, connections=wanted)
    if not w.fits(trial):
        w.findings.append(
            f"max_connections {limit}: {seen} > {CONNECTION_USE_MAX:.0%}, but {wanted} does not "
            "fit the memory budget: add a pooler (pgbouncer, transaction mode)"
        )
        return
    w.budget = trial
    w.set(
        "max_connections",
        wanted,
        f"observed {seen} > {CONNECTION_USE_MAX:.0%} of {limit}: {wanted} keeps "
        f"{1 - CONNECTION_USE_MAX:.0%} headroom; {trial.summary()}",
    )


def _shared_buffers(w: _Work, obs: Observed) -> None:
    current = w.get("shared_buffers")
    accesses = obs.blks_hit + obs.blks_read
    if current is None or accesses < MIN_BLOCK_ACCESSES:
        return
    ratio = obs.blks_hit / accesses
    workload = w.rec.context.workload.name
    minimum = HIT_RATIO_MIN.get(workload, 0.99)
    seen = f"hit ratio {ratio:.2%} over {_duration(obs.window)} ({accesses} block accesses)"
    if ratio >= minimum:
        w.findings.append(f"shared_buffers {current.value} kept: {seen}")
        return
    have = _bytes(current)
    cap = nice_size(int(w.rec.context.memory * SHARED_BUFFERS_DATA_MAX))
    value = min(cap, nice_size(int(have * SHARED_BUFFERS_GROWTH)))
    trial = replace(w.budget, shared_buffers=value)
    if value <= have or not w.fits(trial):
        w.findings.append(f"shared_buffers {current.value}: {seen} < {minimum:.0%}, no room")
        return
    w.budget = trial
    w.set(
        "shared_buffers",
        value,
        f"observed {seen} < {minimum:.0%} for {workload}: {format_pg_size(value)} "
        f"(x{SHARED_BUFFERS_GROWTH:g}, at most {SHARED_BUFFERS_DATA_MAX:.0%} of memory); "
        f"{trial.summary()}",
    )


def _setting_or_default(w: _Work, name: str) -> float:
    s = w.get(name)
    return float(s.setting if s else w.rec.context.facts.param(name).default)


def _bgwriter(w: _Work, obs: Observed) -> None:
    """Raise bgwriter_lru_maxpages (and the multiplier) when the background writer stopped at
    its cap or backends wrote more dirty buffers themselves than it did."""
    if obs.maxwritten_clean is None or obs.buffers_backend is None:
        return
    clean, backend, stopped = obs.buffers_clean or 0, obs.buffers_backend, obs.maxwritten_clean
    if not (stopped > 0 or backend > max(BACKEND_WRITES_MIN, clean)):
        w.findings.append(f"bgwriter: backends wrote {backend} buffers, bgwriter {clean}: fine")
        return
    maxpages = int(_setting_or_default(w, "bgwriter_lru_maxpages"))
    delay = int(_setting_or_default(w, "bgwriter_delay"))
    multiplier = _setting_or_default(w, "bgwriter_lru_multiplier")
    rounds = max(1.0, obs.window * 1000 / delay)
    per_round = (clean + backend) / rounds
    # every dirty eviction of the window written by the bgwriter, twice over for peaks above
    # the window's average; at least double the cap it kept hitting
    wanted = math.ceil(per_round * BGWRITER_PEAK / 100) * 100
    if stopped > 0:
        wanted = max(wanted, maxpages * 2)
    wanted = min(BGWRITER_MAXPAGES_MAX, wanted)
    seen = (
        f"observed: the background writer stopped {stopped} times at bgwriter_lru_maxpages "
        f"(maxwritten_clean) and wrote {clean} buffers while backends wrote {backend} "
        f"themselves in {_duration(obs.window)}, {per_round:.1f} per {delay}ms round"
    )
    changed = []
    if wanted > maxpages:
        w.set(
            "bgwriter_lru_maxpages",
            wanted,
            f"{seen}: {wanted} pages per round (was {maxpages}) lets it write them all, "
            f"x{BGWRITER_PEAK:g} for peaks, before backends must"
            + (f" (at most {BGWRITER_MAXPAGES_MAX})" if wanted == BGWRITER_MAXPAGES_MAX else ""),
            section="bgwriter",
        )
        changed.append(f"bgwriter_lru_maxpages {maxpages} -> {wanted}")
    if multiplier < BGWRITER_MULTIPLIER and backend > clean:
        w.set(
            "bgwriter_lru_multiplier",
            BGWRITER_MULTIPLIER,
            f"{seen}: clean {BGWRITER_MULTIPLIER:g}x what recent rounds needed (was "
            f"{multiplier:g}), so a burst of new dirty pages finds them written",
            section="bgwriter",
        )
        changed.append(f"bgwriter_lru_multiplier {multiplier:g} -> {BGWRITER_MULTIPLIER:g}")
    w.findings.append(
        f"bgwriter: stopped {stopped} times at bgwriter_lru_maxpages, wrote {clean} buffers "
        f"while backends wrote {backend}: "
        + ("; ".join(changed) if changed else "already at its ceiling")
    )


def adjust(rec: Recommendation, obs: Observed) -> Adjusted:
    """The recommendation refined by the observed figures (pure)."""
    w = _Work(rec)
    _wal(w, obs)
    roles = _work_mem(w, obs)
    _connections(w, obs)
    _shared_buffers(w, obs)
    _bgwriter(w, obs)
    tables = _tables(w, obs)
    assert w.budget.peak <= w.budget.limit, "observed adjustments broke the memory budget"
    settings = tuple(w.settings.values())
    notes = (
        *rec.notes,
        f"observed {obs.mode} ({_duration(obs.window)}): adjusted "
        + (", ".join(w.changed) if w.changed else "nothing")
        + (f"; {len(roles)} role and {len(tables)} table statement(s)" if roles or tables else ""),
        *(f"observed: {n}" for n in obs.notes),
        *(f"could not read {what}: {why}" for what, why in obs.unreadable),
    )
    adjusted = replace(rec, settings=settings, budget=w.budget, notes=notes)
    return Adjusted(adjusted, tuple(w.changed), tuple(roles), tuple(tables), tuple(w.findings))
