"""TLS to PostgreSQL (issue 4): a test CA and a server certificate for 127.0.0.1/localhost
made with openssl, a throwaway server with ssl=on that requires TLS and a password for
its user; sslmode=verify-full and require, wrong CA, wrong host name."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from db_pool import ConnectionError

from .pg_instance import PgInstance

pytestmark = pytest.mark.faults

USER, PASSWORD = "tls_user", "tls-hunter2-secret"


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_ca(cwd: str, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=cwd)


def _make_certs(cwd: str) -> None:
    """test-ca signs the server's certificate (127.0.0.1 and localhost); other-ca signs nothing."""
    _make_ca(cwd, "test-ca")
    _make_ca(cwd, "other-ca")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=cwd)
    with open(os.path.join(cwd, "san.ext"), "w") as f:
        f.write("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "test-ca.crt", "-CAkey", "test-ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=cwd)


@pytest.fixture(scope="module")
def tls_server():
    server = PgInstance()
    try:
        server.init()
        certs = os.path.join(server.root, "certs")
        os.makedirs(certs)
        _make_certs(certs)
        os.chmod(os.path.join(certs, "server.key"), 0o600)
        for f in os.listdir(certs):
            if os.geteuid() == 0:
                shutil.chown(os.path.join(certs, f), user=server.user)
        os.chmod(certs, 0o755)
        with open(os.path.join(server.data, "postgresql.conf"), "a") as conf:
            conf.write(f"ssl = on\nssl_cert_file = '{certs}/server.crt'\n"
                       f"ssl_key_file = '{certs}/server.key'\n")
        # The test user must come over TLS and give its password; the superuser (setup,
        # pg_stat_ssl checks) is trusted.
        with open(os.path.join(server.data, "pg_hba.conf"), "w") as hba:
            hba.write("local all all trust\n"
                      f"hostssl all {USER} 127.0.0.1/32 scram-sha-256\n"
                      f"hostnossl all {USER} 127.0.0.1/32 reject\n"
                      "host all postgres 127.0.0.1/32 trust\n")
        server.start()
        server.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        server.certs = certs
        yield server
    finally:
        server.destroy()


def _url(server, host: str = "127.0.0.1", **options: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"postgresql://{USER}:{PASSWORD}@{host}:{server.port}/postgres?{query}"


def _assert_clear(error: BaseException, pool_id: str) -> None:
    text = f"{error} {error!r} {getattr(error, 'db_message', '')}"
    assert error.pool_id == pool_id
    assert f"pool '{pool_id}'" in str(error)
    assert PASSWORD not in text


async def test_verify_full_with_the_test_ca_is_really_tls(dbp, tls_server):
    for host in ("127.0.0.1", "localhost"):
        pool_id = f"tls-{host}"
        await dbp.create_pool(pool_id, url=_url(tls_server, host, sslmode="verify-full",
                                                sslrootcert=f"{tls_server.certs}/test-ca.crt"))
        df = await dbp.query(pool_id, "SELECT s.ssl, s.version, a.usename FROM pg_stat_ssl s "
                                      "JOIN pg_stat_activity a USING (pid) WHERE pid = pg_backend_pid()")
        assert df["ssl"][0] is True
        assert df["version"][0].startswith("TLSv1.")
        assert df["usename"][0] == USER
        assert PASSWORD not in str(dbp.get_pool_status(pool_id))


async def test_keyword_options_reach_libpq_too(dbp, tls_server):
    await dbp.create_pool("kw", host="localhost", port=tls_server.port, database="postgres",
                          username=USER, password=PASSWORD, db_type="postgresql",
                          sslmode="verify-full", sslrootcert=f"{tls_server.certs}/test-ca.crt")
    df = await dbp.query("kw", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert df["ssl"][0] is True


async def test_verify_full_with_a_wrong_ca_fails_clearly(dbp, tls_server):
    with pytest.raises(ConnectionError) as info:
        await dbp.create_pool("wrongca", url=_url(tls_server, sslmode="verify-full",
                                                  sslrootcert=f"{tls_server.certs}/other-ca.crt"))
    _assert_clear(info.value, "wrongca")
    assert "certificate verify failed" in str(info.value)
    assert "wrongca" not in dbp.list_pools()


async def test_verify_full_with_a_wrong_host_name_fails_clearly(dbp, tls_server):
    # hostaddr connects to the right server; the name checked against its certificate is wrong.
    with pytest.raises(ConnectionError) as info:
        await dbp.create_pool("wronghost", url=_url(tls_server, "db.invalid", hostaddr="127.0.0.1",
                                                    sslmode="verify-full",
                                                    sslrootcert=f"{tls_server.certs}/test-ca.crt"))
    _assert_clear(info.value, "wronghost")
    assert 'does not match host name "db.invalid"' in str(info.value)


async def test_sslmode_require_encrypts_without_verifying(dbp, tls_server):
    # require checks no certificate (the test CA is not given) but the session is TLS.
    await dbp.create_pool("req", url=_url(tls_server, sslmode="require"))
    df = await dbp.query("req", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert df["ssl"][0] is True
    # ... and without TLS this server refuses the user: the TLS above is not an accident.
    with pytest.raises(ConnectionError) as info:
        await dbp.create_pool("plain", url=_url(tls_server, sslmode="disable"))
    _assert_clear(info.value, "plain")
