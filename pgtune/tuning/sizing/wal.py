"""WAL and checkpoints: sizes, spacing and compression."""

from pgtune.errors import UsageError
from pgtune.tuning.sizing import Context, Decision
from pgtune.units import MB, format_pg_duration, format_pg_size, nice_size


def wal_sizes(ctx: Context) -> list[Decision]:
    factor = ctx.workload.wal_size_factor
    low = max(64 * MB, nice_size(int(ctx.profile.min_wal_size * factor)))
    high = max(2 * low, nice_size(int(ctx.profile.max_wal_size * factor)))
    scaled = f" x{factor:g} for {ctx.workload.name}" if factor != 1 else ""
    return [
        Decision(
            "min_wal_size",
            low,
            f"{ctx.profile.name} profile{scaled}: recycled WAL segments absorb write bursts "
            "without creating new files",
        ),
        Decision(
            "max_wal_size",
            high,
            f"{ctx.profile.name} profile{scaled}: the 1GB default forces 'requested' "
            f"checkpoints under load; {format_pg_size(high)} lets checkpoint_timeout pace them",
        ),
    ]


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
