"""A PostgreSQL server for tests: the one CI starts, else a throwaway cluster.

CI (``.ci/run``) installs Debian's PostgreSQL, starts it and exports
``MAILROOM_PG_HOST`` and friends; tests then create their own database on it. Where
those are not set but the server binaries exist (``initdb``, ``pg_ctl``), a cluster
is created in a temporary folder, listening on a Unix socket only, and removed
afterwards. Only when neither exists is the test skipped.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from mailroom.postgres import PostgresSettings

NO_SERVER = (
    "no PostgreSQL server: set MAILROOM_PG_HOST (and _PORT, _USER, _PASSWORD) to "
    "one, or install the server binaries (apt-get install postgresql) so that a "
    "throwaway cluster can be started"
)
THROWAWAY_PORT = 55439


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, if PostgreSQL is installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


@contextmanager
def postgres_database() -> Iterator[PostgresSettings]:
    """A fresh, empty database on CI's server or a throwaway cluster; dropped after.

    Raises ``LookupError`` (with :data:`NO_SERVER`) when there is no server at all.
    """
    if os.environ.get("MAILROOM_PG_HOST"):
        server = PostgresSettings.from_env()
        with _fresh_database(server) as database:
            yield database
        return
    binaries = server_binaries()
    if binaries is None:
        raise LookupError(NO_SERVER)
    with _throwaway_cluster(binaries) as server, _fresh_database(server) as database:
        yield database


def enter_postgres_database(stack: ExitStack) -> PostgresSettings:
    """A fresh database (:func:`postgres_database`) held open by ``stack``, with its
    ``MAILROOM_PG_*`` variables set for dbt and the CLI until the stack closes;
    skips the test when there is no server."""
    try:
        server = stack.enter_context(postgres_database())
    except LookupError as missing:
        pytest.skip(str(missing))
    environment = stack.enter_context(pytest.MonkeyPatch.context())
    for name, value in server.env().items():
        environment.setenv(name, value)
    return server


@contextmanager
def _fresh_database(server: PostgresSettings) -> Iterator[PostgresSettings]:
    name = f"mailroom_test_{uuid.uuid4().hex[:8]}"
    admin = replace(server, dbname=server.dbname or "postgres")
    with admin.connect() as con:
        con.execute(f"create database {name}")
    try:
        yield replace(server, dbname=name, schema="public")
    finally:
        _drop_database(admin, name)


def _drop_database(admin: PostgresSettings, name: str) -> None:
    """Drop a test database, first as a plain ``drop database``, which stops an
    autovacuum worker still in it and waits a few seconds for other sessions; only
    sessions left after that (the test's own) are ended by ``with (force)``.

    ``with (force)`` alone fails for a role that is not a superuser when an
    autovacuum worker happens to be in the database: it tries to terminate that
    worker as it would a session, and the worker belongs to no role the test's
    role may signal ("must be a member of the role whose process is being
    terminated").
    """
    with admin.connect() as con:
        try:
            con.execute(f"drop database if exists {name}")
        except psycopg.errors.ObjectInUse:
            con.execute(f"drop database if exists {name} with (force)")


@contextmanager
def _throwaway_cluster(binaries: Path) -> Iterator[PostgresSettings]:
    """initdb + pg_ctl start in a temporary folder, as the postgres user under root
    (PostgreSQL refuses to run as root)."""
    folder = Path(tempfile.mkdtemp(prefix="mailroom-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise LookupError(
                f"{NO_SERVER} (running as root, and there is no postgres user to run "
                "a throwaway cluster as)"
            ) from None
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    server = PostgresSettings(host=str(folder), port=THROWAWAY_PORT, dbname="postgres")
    subprocess.run(
        [
            *run_as,
            str(binaries / "initdb"),
            *("-D", str(data), "-U", server.user),
            *("--auth=trust", "--encoding=UTF8", "--no-sync"),
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {server.port} -k {folder} -c listen_addresses='' -c fsync=off"
    pg_ctl = [*run_as, str(binaries / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(folder / "server.log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield server
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
