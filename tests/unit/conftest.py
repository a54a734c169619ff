"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from chatkit_app import db


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database in a file of its own (test_store.py runs on Postgres too)."""
    built = db.make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    db.migrate(built)
    yield built
    built.dispose()
