"""Persistence: SQLAlchemy 2 (async) models, the engine factory and Alembic migrations.

The same migrations run on SQLite (the embedded default) and PostgreSQL.
"""

__all__: list[str] = []
