"""Fixtures of the fault-injection suite: a throwaway PostgreSQL per module (tests stop,
restart and kill it) and a loopback proxy in front of it."""

from __future__ import annotations

import logging

import pytest
from db_pool import DatabasePool

from .pg_instance import PgInstance
from .proxy import FaultProxy


def pytest_collection_modifyitems(items):
    for item in items:
        if "/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="module")
def pg_server():
    server = PgInstance()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_up(pg_server):
    """The module's server, started again if an earlier test left it down."""
    if not pg_server.running():
        pg_server.start()
    return pg_server


@pytest.fixture
async def proxy(pg_up):
    p = await FaultProxy(pg_up.port).start()
    yield p
    await p.close()


@pytest.fixture
async def dbp():
    async with DatabasePool() as p:
        yield p


@pytest.fixture
def db_pool_log(caplog):
    caplog.set_level(logging.WARNING, logger="db_pool")
    return caplog
