"""Connections kept for the application: a 1 GB web server pgtune configures accepts the 100+
connections an application pool opens (it used to get 20), on real PostgreSQL 15 and 18."""

import pytest

from pgcluster import Cluster
from pgtune.tuning.render import render_conf
from pgtune.tuning.server import detect_build
from pgtune.units import GB
from tuning_helpers import make

pytestmark = pytest.mark.pg


@pytest.mark.parametrize("major", (15, 18))
def test_small_web_server_accepts_an_application_pool_of_100(
    pg_cluster_factory, major: int
) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(major)
    build = detect_build(major, cluster.binaries.exe("pg_config"))
    rec = make(1 * GB, 1, "ssd", "web", major, build)
    conns = int(rec.get("max_connections").value)
    assert conns >= 100
    cluster.write_conf(render_conf(rec), mode="include")
    cluster.start()
    assert cluster.show("max_connections") == str(conns)
    opened = []
    try:
        for _ in range(100):  # PostgreSQL's default pool size in many frameworks' guides
            opened.append(cluster.connect())
        row = (
            opened[-1]
            .execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
            .fetchone()
        )
        assert row is not None and row[0] >= 100
    finally:
        for conn in opened:
            conn.close()
