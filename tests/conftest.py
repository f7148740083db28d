"""Shared fixtures: real PostgreSQL 15 and 18 clusters (see ``tests/pgcluster.py``).

Missing or unusable PostgreSQL binaries make the tests that need them FAIL with a clear message;
set ``PGTUNE_ALLOW_SKIP_PG=1`` to skip them instead (never in CI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn

import pytest

from pgcluster import (
    Cluster,
    ClusterFactory,
    PgBinaries,
    PgHarnessError,
    TemplateCache,
    check_accessible,
    harness_user,
)

PG_MAJORS = (15, 18)
ALLOW_SKIP_ENV = "PGTUNE_ALLOW_SKIP_PG"


def _unavailable(message: str) -> NoReturn:
    """Fail (default) or skip (``PGTUNE_ALLOW_SKIP_PG=1``) a test that needs PostgreSQL."""
    if os.environ.get(ALLOW_SKIP_ENV) == "1":
        pytest.skip(message)
    pytest.fail(f"{message}\n(set {ALLOW_SKIP_ENV}=1 to skip instead of failing)", pytrace=False)


_binaries_cache: dict[int, PgBinaries | str] = {}


def get_pg_binaries(major: int) -> PgBinaries:
    """Located and accessibility-checked binaries of ``major``, or fail/skip the test."""
    cached = _binaries_cache.get(major)
    if cached is None:
        try:
            binaries = PgBinaries.for_major(major)
            check_accessible(binaries, harness_user())
            cached = binaries
        except PgHarnessError as exc:
            cached = str(exc)
        _binaries_cache[major] = cached
    if isinstance(cached, str):
        _unavailable(cached)
    return cached


@pytest.fixture(scope="session", params=PG_MAJORS, ids=[f"pg{m}" for m in PG_MAJORS])
def pg_binaries(request: pytest.FixtureRequest) -> PgBinaries:
    """PostgreSQL binaries, once per major version (ids ``pg15``, ``pg18``)."""
    major: int = request.param
    return get_pg_binaries(major)


@pytest.fixture(scope="session")
def pg_template_cache() -> Iterator[TemplateCache]:
    """One initdb'ed data directory per version per session, copied for each cluster."""
    cache = TemplateCache()
    try:
        yield cache
    finally:
        cache.cleanup()


@pytest.fixture(scope="module")
def shared_pg_cluster(pg_template_cache: TemplateCache) -> Iterator[Callable[[int], Cluster]]:
    """``shared(15 | 18)`` -> one started cluster per version for the whole module (hypothesis
    examples reuse it; each example cleans up after itself). Stopped at the module's end."""
    started: dict[int, Cluster] = {}

    def shared(major: int) -> Cluster:
        if major not in started:
            cluster = Cluster(get_pg_binaries(major), template_cache=pg_template_cache)
            started[major] = cluster
            cluster.initdb()
            cluster.start()
        return started[major]

    try:
        yield shared
    finally:
        for cluster in started.values():
            cluster.cleanup()


@pytest.fixture
def pg_cluster_factory(pg_template_cache: TemplateCache) -> Iterator[ClusterFactory]:
    """``factory(15 | 18 | pg_binaries, *, listen_addresses='', initdb_args=())`` -> Cluster.

    The clusters are initdb'ed but not started; all are stopped and removed at teardown.
    """
    clusters: list[Cluster] = []

    def factory(
        version: int | PgBinaries,
        *,
        listen_addresses: str | None = "",
        initdb_args: Sequence[str] = (),
    ) -> Cluster:
        binaries = version if isinstance(version, PgBinaries) else get_pg_binaries(version)
        cluster = Cluster(
            binaries, listen_addresses=listen_addresses, template_cache=pg_template_cache
        )
        clusters.append(cluster)
        cluster.initdb(initdb_args)
        return cluster

    try:
        yield factory
    finally:
        errors: list[BaseException] = []
        for cluster in reversed(clusters):
            try:
                cluster.cleanup()
            except Exception as exc:  # keep cleaning the others
                errors.append(exc)
        if errors:
            raise errors[0]
