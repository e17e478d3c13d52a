"""Shared fixtures: the throwaway servers started by scripts/services.sh (URLs from the env)."""

from __future__ import annotations

import os

import pytest
from db_pool import DatabasePool


def _service_url(var: str, name: str) -> str:
    url = os.environ.get(var)
    if url:
        return url
    if os.environ.get("DB_POOL_TEST_REQUIRE_SERVICES"):
        pytest.fail(f"{var} is not set: scripts/services.sh did not start {name}")
    pytest.skip(f"{var} not set (run the suite with scripts/run_tests.sh to start {name})")


@pytest.fixture
def pg_url() -> str:
    return _service_url("DB_POOL_TEST_PG_URL", "PostgreSQL")


@pytest.fixture
def pg_superuser_url() -> str:
    return _service_url("DB_POOL_TEST_PG_SUPERUSER_URL", "PostgreSQL")


@pytest.fixture
def pgbouncer_pool2_url() -> str:
    """PgBouncer (transaction mode) in front of the test database with 2 server connections."""
    return _service_url("DB_POOL_TEST_PGBOUNCER_POOL2_URL", "PgBouncer")


@pytest.fixture
def mysql_url() -> str:
    return _service_url("DB_POOL_TEST_MYSQL_URL", "MariaDB")


@pytest.fixture
def redis_url() -> str:
    return _service_url("DB_POOL_TEST_REDIS_URL", "Redis")


@pytest.fixture
def influx_url() -> str:
    return _service_url("DB_POOL_TEST_INFLUX_URL", "InfluxDB")


@pytest.fixture
async def pool():
    async with DatabasePool() as p:
        yield p


@pytest.fixture
async def pg(pool, pg_url):
    """A DatabasePool with pool "pg" on the throwaway PostgreSQL."""
    await pool.create_pool("pg", url=pg_url, max_connections=5)
    return pool


@pytest.fixture
async def lite(pool, tmp_path):
    """A DatabasePool with pool "lite" on a fresh SQLite file."""
    await pool.create_pool("lite", url=f"sqlite:///{tmp_path}/test.db", max_connections=4)
    return pool
