"""Connections and session limits.

The connection count itself is settled by the memory budget (budget.py): the workload's default
may be lowered to fit, a user's --max-connections never is.
"""

from pgtune.tuning.sizing import Context, Decision
from pgtune.units import format_pg_duration


def idle_in_transaction_timeout(ctx: Context) -> Decision:
    ms = ctx.workload.idle_in_transaction_timeout
    if ms == 0:
        why = f"{ctx.workload.name}: no limit; sessions left idle in a transaction hold locks"
    else:
        why = (
            f"{ctx.workload.name}: end sessions idle in a transaction after "
            f"{format_pg_duration(ms)}; they hold locks and stop VACUUM from cleaning up"
        )
    return Decision("idle_in_transaction_session_timeout", ms, why)
