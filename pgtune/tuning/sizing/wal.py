"""WAL and checkpoints: sizes, spacing and compression."""

from pgtune.errors import UsageError
from pgtune.tuning.sizing import Context, Decision
from pgtune.units import MB, TB, format_pg_duration, format_pg_size, human_size, nice_size

# max_wal_size is a soft limit: a checkpoint starts when WAL since the last one reaches about
# max_wal_size / (1 + checkpoint_completion_target), and WAL keeps coming while it runs, so under
# load (or with a slow archive_command) pg_wal overshoots it. 60% of the filesystem (the share
# timescaledb-tune uses) leaves 40% for that overshoot before the server stops on a full pg_wal.
WAL_DISK_SHARE = 0.60
# A forgotten replication slot retains WAL without bound by default; with a known disk it may
# hold what is left after max_wal_size, up to 90% of the filesystem (recycled segments for the
# next checkpoint cycle still come on top of what a slot retains).
WAL_DISK_SLOT_SHARE = 0.90
# min_wal_size at most a quarter of max_wal_size: recycled segments absorb bursts, and a
# pg_wal that cannot shrink below min_wal_size still leaves most of the disk to the overshoot.
MIN_WAL_FRACTION = 4
WAL_SEGMENT = 16 * MB
# temporary files of one query (leader + its parallel workers, each limited on its own) may fill
# at most this share of the free space on the data's filesystem.
TEMP_DISK_SHARE = 0.20


def round_disk_share(nbytes: int) -> int:
    """Down to what a person writes: whole GB from 4GB, 64MB steps from 64MB (60% of 2GB reads
    1216MB, not 1228MB), whole MB below; never below two WAL segments."""
    step = 1024 * MB if nbytes >= 4 * 1024 * MB else 64 * MB if nbytes >= 64 * MB else MB
    return max(2 * WAL_SEGMENT, nbytes // step * step)


def wal_sizes(ctx: Context) -> list[Decision]:
    factor = ctx.workload.wal_size_factor
    profile_low = max(64 * MB, nice_size(int(ctx.profile.min_wal_size * factor)))
    profile_high = max(2 * profile_low, nice_size(int(ctx.profile.max_wal_size * factor)))
    scaled = f" x{factor:g} for {ctx.workload.name}" if factor != 1 else ""
    profile = f"{ctx.profile.name} profile{scaled}"
    hw = ctx.hardware
    disk = hw.wal_disk_bytes
    if disk is None:
        high, low = profile_high, profile_low
        high_why = (
            f"{profile}: the 1GB default forces 'requested' checkpoints under load; "
            f"{format_pg_size(high)} assumes pg_wal's filesystem holds at least "
            f"{human_size(high / WAL_DISK_SHARE)} (its size is unknown: give --data-dir or "
            "--wal-disk-size)"
        )
    else:
        cap = round_disk_share(int(disk * WAL_DISK_SHARE))
        high = min(profile_high, cap)
        low = max(2 * WAL_SEGMENT, min(profile_low, round_disk_share(high // MIN_WAL_FRACTION)))
        where = f"{human_size(disk)} pg_wal may fill ({hw.wal_disk_source})"
        if high < profile_high:
            high_why = (
                f"{WAL_DISK_SHARE:.0%} of the {where}: max_wal_size is a soft limit and WAL "
                "overshoots it under load; the rest absorbs that before a full pg_wal stops "
                f"the server (the {profile} would want {format_pg_size(profile_high)})"
            )
        else:
            high_why = (
                f"{profile}: the 1GB default forces 'requested' checkpoints under load; "
                f"{format_pg_size(high)} is within {WAL_DISK_SHARE:.0%} of the {where}"
            )
    low_why = (
        f"{profile}: recycled WAL segments absorb write bursts without creating new files"
        if low == profile_low
        else f"a quarter of max_wal_size ({format_pg_size(high)}) at most: recycled segments "
        "absorb bursts and pg_wal can shrink when the disk is small"
    )
    return [Decision("min_wal_size", low, low_why), Decision("max_wal_size", high, high_why)]


def max_slot_wal_keep_size(ctx: Context, max_wal_size: int) -> Decision:
    """Cap the WAL a replication slot may retain, so a forgotten slot invalidates itself (its
    replica needs a new base backup) instead of filling pg_wal and stopping the primary."""
    disk = ctx.hardware.wal_disk_bytes
    if disk is None:
        return Decision(
            "max_slot_wal_keep_size",
            -1,
            "unlimited (the default): pg_wal's disk size is unknown (give --data-dir or "
            "--wal-disk-size); a forgotten replication slot then fills pg_wal and stops the "
            "server: watch pg_replication_slots",
        )
    keep = max(WAL_SEGMENT, round_disk_share(int(disk * WAL_DISK_SLOT_SHARE) - max_wal_size))
    return Decision(
        "max_slot_wal_keep_size",
        keep,
        f"{WAL_DISK_SLOT_SHARE:.0%} of the {human_size(disk)} pg_wal may fill minus "
        f"max_wal_size ({format_pg_size(max_wal_size)}): a slot that falls further behind is "
        "invalidated (its replica needs a new base backup) instead of stopping the server on "
        "a full disk",
    )


def temp_file_limit(ctx: Context, per_gather: int) -> Decision:
    """Per-process cap on temporary files; each parallel worker has its own."""
    free = ctx.hardware.temp_disk_bytes
    if free is None:
        return Decision(
            "temp_file_limit",
            -1,
            "unlimited (the default): the data directory's free space is unknown (give "
            "--data-dir); log_temp_files shows the spills",
        )
    processes = 1 + per_gather
    # temp_file_limit is an int of kB: at most 2TB - 1kB; 1TB is the round value below it
    limit = min(TB, max(64 * MB, round_disk_share(int(free * TEMP_DISK_SHARE / processes))))
    return Decision(
        "temp_file_limit",
        limit,
        f"{TEMP_DISK_SHARE:.0%} of the {human_size(free)} free on the data's filesystem "
        f"shared by one query's {processes} processes (leader + {per_gather} parallel "
        "workers, each limited on its own): a runaway join fails instead of filling the disk",
    )


def checkpoints(ctx: Context) -> list[Decision]:
    timeout = ctx.profile.checkpoint_timeout
    completion_default = ctx.facts.param("checkpoint_completion_target").default
    return [
        Decision(
            "checkpoint_timeout",
            timeout,
            f"{format_pg_duration(timeout)}: fewer full-page images in WAL than the 5min "
            "default, at the cost of a longer crash recovery",
        ),
        Decision(
            "checkpoint_completion_target",
            0.9,
            "spread checkpoint writes over 90% of the interval"
            + (
                ""
                if completion_default == "0.9"
                else f" (this version's default is {completion_default})"
            ),
        ),
    ]


# pg_basebackup -X stream (the default) holds two WAL senders while it builds a new replica.
BASE_BACKUP_SENDERS = 2
# WAL kept for replicas (wal_keep_size) at most this share of pg_wal's filesystem: with
# max_wal_size within 60% the two stay inside the slot rule's 90% (WAL kept is the larger of
# what wal_keep_size, a slot or the next checkpoint needs, not their sum).
WAL_KEEP_DISK_SHARE = 0.25
REPLICAS_MAX = 1000


def replication(ctx: Context, max_wal_size: int, slot_keep: int) -> list[Decision]:
    """wal_level, WAL senders, slots and WAL kept for ``--replicas N``; without it, a workload
    without replicas (desktop) writes the least WAL and the others keep the defaults.

    ``slot_keep`` is max_slot_wal_keep_size (-1: unlimited, the disk is unknown)."""
    n = ctx.options.replicas
    if n is None:
        if ctx.workload.replication:
            return []
        return [
            Decision(
                "wal_level",
                "minimal",
                f"{ctx.workload.name}: no replicas or WAL archiving here, so CREATE TABLE AS, "
                "COPY into a new table and index builds skip WAL (the default replica needs a "
                "restart to come back; --replicas N for standbys)",
            ),
            Decision("max_wal_senders", 0, "wal_level = minimal requires 0: no replication"),
        ]
    wanted = n + BASE_BACKUP_SENDERS
    default_senders = int(ctx.facts.param("max_wal_senders").default)
    default_slots = int(ctx.facts.param("max_replication_slots").default)
    senders, slots = max(wanted, default_senders), max(wanted, default_slots)
    plus = f"{n} replica(s) + {BASE_BACKUP_SENDERS} for pg_basebackup -X stream = {wanted}"

    def why(kind: str, value: int, default: int) -> str:
        if value > default:
            return f"--replicas {n}: one {kind} per replica, {plus}"
        return (
            f"--replicas {n}: {plus}; the default {default} already covers that, and a lower "
            f"value frees only a few kB of shared memory per {kind}"
        )

    decisions = [
        Decision(
            "wal_level",
            "replica",
            f"--replicas {n}: standbys replay this server's WAL (logical only for logical "
            "decoding; minimal cannot feed a standby or pg_basebackup)",
        ),
        Decision(
            "max_wal_senders",
            senders,
            why("WAL sender", senders, default_senders)
            + "; each streaming replica is a busy process in the memory budget; "
            "standbys need at least as many",
        ),
        Decision(
            "max_replication_slots",
            slots,
            why("slot", slots, default_slots)
            + "; a slot keeps the WAL its replica has not received, bounded by "
            "max_slot_wal_keep_size",
        ),
    ]
    if n == 0:
        return decisions  # wal_keep_size stays 0: no standby to keep WAL for
    disk = ctx.hardware.wal_disk_bytes
    if disk is None or slot_keep < 0:
        keep = round_disk_share(max_wal_size // MIN_WAL_FRACTION)
        bound = (
            f"a quarter of max_wal_size ({format_pg_size(max_wal_size)}): pg_wal's filesystem "
            "is not measured, and the WAL kept must stay within what the note assumes it holds"
        )
    else:
        share = round_disk_share(int(disk * WAL_KEEP_DISK_SHARE))
        keep = min(max_wal_size, share, slot_keep)
        bound = (
            f"the smaller of max_wal_size ({format_pg_size(max_wal_size)}, one checkpoint "
            f"cycle), {WAL_KEEP_DISK_SHARE:.0%} of the {human_size(disk)} pg_wal may fill and "
            f"max_slot_wal_keep_size ({format_pg_size(slot_keep)}): with max_wal_size it stays "
            "within the disk rule"
        )
    decisions.append(
        Decision(
            "wal_keep_size",
            keep,
            f"--replicas {n}: WAL always kept in pg_wal, so a replica without a slot (or whose "
            "slot was invalidated) that reconnects after a short outage catches up without a "
            f"new base backup; {bound}",
        )
    )
    return decisions


def wal_compression(ctx: Context) -> Decision:
    allowed = ctx.facts.param("wal_compression").values
    asked, build = ctx.options.wal_compression, ctx.build
    if asked is not None:
        if asked not in allowed:
            raise UsageError(
                f"invalid --wal-compression {asked!r} for PostgreSQL {ctx.major}: "
                f"choose one of {', '.join(allowed)}"
            )
        missing = {"lz4": build.lz4, "zstd": build.zstd}.get(asked) is False
        if missing:
            raise UsageError(
                f"--wal-compression {asked!r}: this server is built without it ({build.source})"
            )
        return Decision("wal_compression", asked, "asked for with --wal-compression")
    if "lz4" not in allowed:
        return Decision(
            "wal_compression",
            "on",
            "full-page images compressed (pglz, the only method before PostgreSQL "
            "15): less WAL written and shipped",
        )
    if build.lz4:
        return Decision(
            "wal_compression",
            "lz4",
            "full-page images compressed with lz4: several times less WAL for "
            f"little CPU (server built with lz4: {build.source})",
        )
    if build.lz4 is False:
        why = f"this server build has no lz4 ({build.source}); pglz still cuts WAL volume"
    else:
        why = (
            "pglz, which every build has: the server build is unknown; pass --pg-config, "
            "or --wal-compression lz4 if the server has it (distribution packages do)"
        )
    return Decision("wal_compression", "pglz", why)
