"""External services for tests: skip with a reason when absent, fail when CI=true."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import psycopg2

from tests.helpers import unavailable


def require_tcp_service(name: str, port: int) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return
    except OSError as error:
        unavailable(f"{name} is not reachable on 127.0.0.1:{port} ({error})")


@contextlib.contextmanager
def postgres_schema(password: str = "") -> Iterator[str]:
    """A fresh schema in the `test` database, named in DAGSTER_POSTGRES_URL (the variable the
    shipped dagster.postgres.yaml reads) for the duration, then dropped. Trust authentication
    ignores `password`, so a test can put a secret in the URL."""
    require_tcp_service("PostgreSQL", 5432)
    schema = f"proxx_test_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
    credentials = f"postgres:{password}" if password else "postgres"
    os.environ["DAGSTER_POSTGRES_URL"] = (
        f"postgresql+psycopg2://{credentials}@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    )
    try:
        yield schema
    finally:
        del os.environ["DAGSTER_POSTGRES_URL"]
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        connection.close()
