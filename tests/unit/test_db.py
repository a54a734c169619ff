"""Engine setup and migrations on real SQLite files (and Postgres when configured)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select, text

from chatkit_app import db
from chatkit_app.models import ChatSession

SESSION_TABLE = ChatSession.__tablename__
TABLE = ChatSession.__table__  # type: ignore[attr-defined]
REPO_ROOT = Path(__file__).resolve().parents[2]


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def session_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(SESSION_TABLE)}


def model_columns() -> set[str]:
    return {column.name for column in ChatSession.__table__.columns}  # type: ignore[attr-defined]


def downgrade_to_base(engine: Engine) -> None:
    with engine.begin() as connection:
        config = db.alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")


def insert_session(engine: Engine, session_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            TABLE.insert().values(
                id=session_id,
                user_id="u",
                workflow_id="assistant",
                metadata={"k": 1},
                current_jti="j",
                created_at=1,
                token_expires_at=2,
                absolute_expires_at=3,
                refresh_count=0,
            )
        )


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'nested' / 'chat.db'}")
    yield engine
    engine.dispose()


def test_migrate_creates_the_schema_on_a_fresh_file(sqlite_engine: Engine, tmp_path: Path) -> None:
    assert current_revision(sqlite_engine) is None
    db.migrate(sqlite_engine)
    assert (tmp_path / "nested" / "chat.db").is_file()
    assert SESSION_TABLE in inspect(sqlite_engine).get_table_names()
    assert session_columns(sqlite_engine) == model_columns()
    assert current_revision(sqlite_engine) == head_revision(sqlite_engine)


def test_migrate_is_idempotent_and_keeps_data(sqlite_engine: Engine) -> None:
    db.migrate(sqlite_engine)
    insert_session(sqlite_engine, "cks_keep")
    db.migrate(sqlite_engine)
    db.migrate(sqlite_engine)
    assert current_revision(sqlite_engine) == head_revision(sqlite_engine)
    with sqlite_engine.connect() as connection:
        rows = connection.execute(select(TABLE.c.id)).scalars().all()
    assert rows == ["cks_keep"]


def test_every_sqlite_connection_uses_wal_and_a_busy_timeout(sqlite_engine: Engine) -> None:
    db.migrate(sqlite_engine)
    connections = [sqlite_engine.connect() for _ in range(3)]  # distinct pooled DBAPI connections
    try:
        for connection in connections:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert int(connection.execute(text("PRAGMA busy_timeout")).scalar_one()) >= 5000
    finally:
        for connection in connections:
            connection.close()


def test_wal_file_appears_next_to_the_database(sqlite_engine: Engine, tmp_path: Path) -> None:
    db.migrate(sqlite_engine)
    with sqlite_engine.connect() as connection:  # keep one open so the WAL is not checkpointed away
        insert_session(sqlite_engine, "cks_wal")
        assert (tmp_path / "nested" / "chat.db-wal").exists()
        assert connection.execute(select(func.count()).select_from(TABLE)).scalar() == 1


def test_database_with_an_empty_version_table_is_brought_to_head(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    db.migrate(sqlite_engine)
    assert current_revision(sqlite_engine) == head_revision(sqlite_engine)
    assert session_columns(sqlite_engine) == model_columns()


def test_downgraded_database_is_upgraded_again(sqlite_engine: Engine) -> None:
    db.migrate(sqlite_engine)
    downgrade_to_base(sqlite_engine)
    assert SESSION_TABLE not in inspect(sqlite_engine).get_table_names()
    assert current_revision(sqlite_engine) is None
    db.migrate(sqlite_engine)
    assert SESSION_TABLE in inspect(sqlite_engine).get_table_names()
    assert current_revision(sqlite_engine) == head_revision(sqlite_engine)
    insert_session(sqlite_engine, "cks_after")


def test_parallel_processes_can_migrate_the_same_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    script = textwrap.dedent(
        f"""
        from chatkit_app.db import make_engine, migrate
        engine = make_engine({url!r})
        migrate(engine)
        engine.dispose()
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    failures = [worker.communicate(timeout=120)[1] for worker in workers if worker.wait(timeout=120) != 0]
    assert failures == []
    engine = db.make_engine(url)
    try:
        assert current_revision(engine) == head_revision(engine)
        assert session_columns(engine) == model_columns()
    finally:
        engine.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = db.make_engine(postgres_url)
    yield engine
    engine.dispose()


def test_postgres_migrate_creates_schema_idempotently(postgres_engine: Engine) -> None:
    assert current_revision(postgres_engine) is None
    db.migrate(postgres_engine)
    db.migrate(postgres_engine)
    assert session_columns(postgres_engine) == model_columns()
    assert current_revision(postgres_engine) == head_revision(postgres_engine)
    insert_session(postgres_engine, "cks_pg")
    with postgres_engine.connect() as connection:
        assert connection.execute(select(TABLE.c["metadata"])).scalar_one() == {"k": 1}


def test_postgres_downgraded_database_is_upgraded_again(postgres_engine: Engine) -> None:
    db.migrate(postgres_engine)
    downgrade_to_base(postgres_engine)
    assert SESSION_TABLE not in inspect(postgres_engine).get_table_names()
    db.migrate(postgres_engine)
    assert current_revision(postgres_engine) == head_revision(postgres_engine)
