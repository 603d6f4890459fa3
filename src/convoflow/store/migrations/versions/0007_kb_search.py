"""Full-text search of knowledge-base chunks in the database.

SQLite: an FTS5 table ``knowledge_chunks_fts`` (the text, and the chunk's id unindexed)
filled from ``knowledge_chunks`` and kept in step by triggers (chunks are inserted and
deleted, never updated in place, but an update is followed too). PostgreSQL: a stored
generated column ``search_vector`` (``to_tsvector('simple', text)``) with a GIN index,
which ``ts_rank`` queries use (see ``convoflow.store.knowledge_search``). Neither is
described by the models: the database keeps them in step by itself.

Revision ID: 0007_kb_search
Revises: 0006_llm
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_kb_search"
down_revision: str | None = "0007_campaign_tier"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE knowledge_chunks_fts USING fts5("
    "text, chunk_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO knowledge_chunks_fts (text, chunk_id) SELECT text, id FROM knowledge_chunks",
    "CREATE TRIGGER knowledge_chunks_fts_insert AFTER INSERT ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts (text, chunk_id) VALUES (new.text, new.id); END",
    "CREATE TRIGGER knowledge_chunks_fts_delete AFTER DELETE ON knowledge_chunks BEGIN "
    "DELETE FROM knowledge_chunks_fts WHERE chunk_id = old.id; END",
    "CREATE TRIGGER knowledge_chunks_fts_update AFTER UPDATE OF text, id ON knowledge_chunks "
    "BEGIN DELETE FROM knowledge_chunks_fts WHERE chunk_id = old.id; "
    "INSERT INTO knowledge_chunks_fts (text, chunk_id) VALUES (new.text, new.id); END",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS knowledge_chunks_fts_update",
    "DROP TRIGGER IF EXISTS knowledge_chunks_fts_delete",
    "DROP TRIGGER IF EXISTS knowledge_chunks_fts_insert",
    "DROP TABLE IF EXISTS knowledge_chunks_fts",
]
_POSTGRES_UP = [
    # Stored, so ranking a match does not parse its text again.
    "ALTER TABLE knowledge_chunks ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED",
    "CREATE INDEX ix_knowledge_chunks_text_search ON knowledge_chunks USING gin (search_vector)",
]
_POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_knowledge_chunks_text_search",
    "ALTER TABLE knowledge_chunks DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _run(_POSTGRES_UP)
    else:
        _run(_SQLITE_UP)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _run(_POSTGRES_DOWN)
    else:
        _run(_SQLITE_DOWN)
