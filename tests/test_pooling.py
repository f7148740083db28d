"""PgBouncer sizing: pools decide max_connections, freed memory goes to work_mem."""

import pytest
from typer.testing import CliRunner

from pgtune.cli.app import app
from pgtune.errors import BudgetError, UsageError
from pgtune.tuning.pooling import PoolerOptions, parse_database
from pgtune.units import GB, parse_size
from tuning_helpers import make

FIXED = ["--memory", "16GB", "--cpus", "4", "--storage", "ssd", "--pg-version", "16", "-q"]


def test_pools_set_max_connections_and_free_memory_for_work_mem() -> None:
    direct = make(2 * GB, 2, "ssd", "web", 16)
    pooled = make(2 * GB, 2, "ssd", "web", 16, pooler=PoolerOptions())
    plan = pooled.pool_plan
    assert plan is not None
    conns = int(pooled.get("max_connections").value)
    assert conns == plan.pools * (plan.pool_size + plan.reserve) + 13
    assert conns < int(direct.get("max_connections").value)
    assert parse_size(pooled.get("work_mem").value) > parse_size(direct.get("work_mem").value)
    assert "pgbouncer in front" in pooled.get("max_connections").reason
    assert pooled.budget.peak <= pooled.budget.limit


def test_pool_size_follows_cpus_and_storage() -> None:
    def size(cpus: int, storage: str) -> int:
        plan = make(64 * GB, cpus, storage, "oltp", 16, pooler=PoolerOptions()).pool_plan  # type: ignore[arg-type]
        assert plan is not None
        return plan.pool_size

    assert size(16, "nvme") > size(16, "ssd") > size(16, "hdd")
    assert size(2, "ssd") == 10  # the floor
    assert size(64, "nvme") == 100  # the ceiling


def test_more_databases_and_users_mean_more_server_connections() -> None:
    one = make(pooler=PoolerOptions()).pool_plan
    many = make(
        pooler=PoolerOptions(
            databases=(parse_database("a", 5432), parse_database("b", 5432)),
            users_per_database=3,
        )
    ).pool_plan
    assert one is not None and many is not None
    assert many.pools == 6 and many.server_connections > one.server_connections


def test_max_prepared_statements_only_for_pgbouncer_that_has_it() -> None:
    def names(version: tuple[int, int]) -> set[str]:
        plan = make(pooler=PoolerOptions(version=version)).pool_plan
        assert plan is not None
        return {s.name for s in plan.settings}

    assert "max_prepared_statements" in names((1, 21))
    assert "max_prepared_statements" not in names((1, 18))
    with pytest.raises(UsageError, match=r"1\.14"):
        names((1, 12))


def test_user_max_connections_below_the_pools_is_refused() -> None:
    with pytest.raises(UsageError, match="below what the pgbouncer pools need"):
        make(pooler=PoolerOptions(), max_connections=10)


def test_pools_too_big_for_memory_name_the_pool_size_flag() -> None:
    with pytest.raises(BudgetError, match="--pool-size"):
        make(
            2 * GB, 4, "ssd", "web", 16, pooler=PoolerOptions(pool_size=100, users_per_database=20)
        )


def test_fd_limit_warning() -> None:
    rec = make(pooler=PoolerOptions(fd_limit=1024, max_client_conn=5000))
    assert any("ulimit -n" in n and "LimitNOFILE" in n for n in rec.notes)
    quiet = make(pooler=PoolerOptions(fd_limit=1_000_000))
    assert not any("ulimit -n" in n for n in quiet.notes)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("app=host=db password=secret", "must not carry a password"),
        ("bad name", "invalid --database"),
        ("app=hostdb", "invalid --database setting"),
    ],
)
def test_database_specs_are_validated(spec: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        parse_database(spec, 5432)


def test_cli_renders_pgbouncer_ini_and_auth_sql() -> None:
    runner = CliRunner()
    ini = runner.invoke(
        app,
        [
            "generate",
            *FIXED,
            "--emit",
            "pgbouncer",
            "--database",
            "shop",
            "--pgbouncer-version",
            "1.22",
        ],
    )
    assert ini.exit_code == 0, ini.output
    text = ini.stdout
    assert "[databases]\nshop = host=127.0.0.1 port=5432 dbname=shop\n" in text
    assert "auth_type = scram-sha-256" in text and "pool_mode = transaction" in text
    assert "max_prepared_statements = 200" in text
    assert "for pgbouncer 1.22 (--pgbouncer-version)" in text

    sql = runner.invoke(
        app, ["generate", *FIXED, "--emit", "pgbouncer-auth-sql", "--auth-user", 'we"ird']
    )
    assert sql.exit_code == 0, sql.output
    assert 'GRANT EXECUTE ON FUNCTION pgbouncer.user_lookup(text) TO "we""ird";' in sql.stdout
    assert "SECURITY DEFINER SET search_path = pg_catalog, pg_temp" in sql.stdout
    assert "REVOKE ALL ON FUNCTION pgbouncer.user_lookup(text) FROM PUBLIC;" in sql.stdout


def test_cli_json_carries_the_pgbouncer_section() -> None:
    import json

    out = CliRunner().invoke(
        app, ["generate", *FIXED, "--pgbouncer", "--format", "json", "--pgbouncer-version", "1.18"]
    )
    doc = json.loads(out.stdout)
    bouncer = doc["pgbouncer"]
    assert bouncer["version"] == "1.18"
    assert int(doc["settings"]["max_connections"]["value"]) == bouncer["server_connections"]
    assert bouncer["settings"]["default_pool_size"]["value"] == str(bouncer["pool_size"])
    assert all(entry["reason"] for entry in bouncer["settings"].values())


def test_cli_rejects_format_for_other_files() -> None:
    out = CliRunner().invoke(app, ["generate", *FIXED, "--emit", "pgbouncer", "--format", "json"])
    assert out.exit_code == 2 and "--emit postgresql only" in out.stderr
