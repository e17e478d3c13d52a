"""create_pool configuration forms: URL, keywords (the seed's form), dict, environment."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from db_pool import ConfigError


def _parts(url: str) -> dict:
    u = urlsplit(url)
    return {
        "host": u.hostname,
        "port": u.port,
        "database": u.path.lstrip("/"),
        "username": u.username,
        "password": u.password,
    }


async def test_keyword_form(pool, pg_url):
    await pool.create_pool("kw", db_type="postgresql", max_connections=3, **_parts(pg_url))
    df = await pool.query("kw", "SELECT current_user AS u, current_database() AS d")
    assert df.row(0) == (_parts(pg_url)["username"], _parts(pg_url)["database"])
    status = pool.get_pool_status("kw")
    assert status["max_connections"] == 3
    assert "***" in status["url"] and _parts(pg_url)["password"] not in status["url"]


async def test_dict_form_and_keyword_override(pool, pg_url):
    await pool.create_pool("d", config={"url": pg_url, "max_connections": 7}, min_connections=2)
    status = pool.get_pool_status("d")
    assert (status["min_connections"], status["max_connections"]) == (2, 7)
    assert status["size"] == 2


async def test_environment_form(pool, pg_url, monkeypatch):
    monkeypatch.setenv("APPDB_URL", pg_url)
    monkeypatch.setenv("APPDB_MAX_CONNECTIONS", "4")
    await pool.create_pool("env", env_prefix="APPDB_", acquire_timeout=2.5)
    assert pool.get_pool_status("env")["max_connections"] == 4
    assert (await pool.query("env", "SELECT 1 AS x"))["x"].to_list() == [1]


async def test_environment_without_settings_names_the_variable(pool):
    with pytest.raises(ConfigError, match="NOPE_URL"):
        await pool.create_pool("env", env_prefix="NOPE_")


async def test_driver_options_pass_through(pool, pg_url):
    await pool.create_pool("opt", url=pg_url, application_name="dbpool-test-app")
    df = await pool.query("opt", "SELECT current_setting('application_name') AS a")
    assert df["a"].to_list() == ["dbpool-test-app"]


async def test_unknown_driver_option_is_a_config_error(pool, pg_url):
    with pytest.raises(ConfigError, match="no_such_option"):
        await pool.create_pool("opt", url=pg_url, no_such_option="1")
