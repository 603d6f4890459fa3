"""Full-text ranking of knowledge-base chunks, inside the database.

* SQLite: the FTS5 table ``knowledge_chunks_fts`` (the chunk's text, and its id unindexed),
  kept in step with ``knowledge_chunks`` by triggers; ranked with FTS5's ``bm25()``.
* PostgreSQL: the stored generated column ``search_vector`` (``to_tsvector('simple',
  text)``) with a GIN index; ranked with ``ts_rank``.

Both built by migration ``0007_kb_search``. The ``simple`` configuration and FTS5's
``unicode61`` tokenizer split and lower-case words without a language's stemming or stop
words, so a knowledge base in any language is searched alike; the caller drops the
commonest question words from the query. A chunk matches when it has any of the query's
words; the more (and rarer) words it shares, the higher it ranks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SEARCH_CONFIG", "lexical_ranking"]

#: The PostgreSQL text search configuration of ``search_vector`` (the query uses the same).
SEARCH_CONFIG = "simple"
#: What a query word may hold: letters, digits and underscores (so it is safe to quote).
_QUERY_WORD = re.compile(r"^\w+$", re.UNICODE)

_SQLITE = text(
    """
    SELECT f.chunk_id AS id, -bm25(knowledge_chunks_fts) AS score
    FROM knowledge_chunks_fts AS f
    JOIN knowledge_chunks AS c ON c.id = f.chunk_id
    JOIN knowledge_bases AS b ON b.id = c.knowledge_base_id
    WHERE knowledge_chunks_fts MATCH :query AND b.owner_id = :owner_id AND b.name IN :names
    ORDER BY score DESC, c.id
    LIMIT :limit
    """
).bindparams(bindparam("names", expanding=True))

_POSTGRES = text(
    f"""
    SELECT c.id AS id, ts_rank(c.search_vector, query) AS score
    FROM knowledge_chunks AS c
    JOIN knowledge_bases AS b ON b.id = c.knowledge_base_id
    CROSS JOIN to_tsquery('{SEARCH_CONFIG}', :query) AS query
    WHERE c.search_vector @@ query
      AND b.owner_id = :owner_id AND b.name IN :names
    ORDER BY score DESC, c.id
    LIMIT :limit
    """
).bindparams(bindparam("names", expanding=True))


async def lexical_ranking(
    db_session: AsyncSession,
    *,
    owner_id: str,
    names: Sequence[str],
    query_words: Sequence[str],
    limit: int,
) -> dict[str, float]:
    """Chunk id → full-text score (higher is better) of the best ``limit`` chunks of the
    owner's knowledge bases ``names`` that share a word with the query."""
    terms = sorted({word for word in query_words if _QUERY_WORD.match(word)})
    if not terms or not names:
        return {}
    bind = db_session.bind
    postgres = bind is not None and bind.dialect.name == "postgresql"
    if postgres:
        statement, query = _POSTGRES, " | ".join(f"'{word}'" for word in terms)
    else:
        statement, query = _SQLITE, " OR ".join(f'"{word}"' for word in terms)
    rows = await db_session.execute(
        statement,
        {"query": query, "owner_id": owner_id, "names": list(names), "limit": limit},
    )
    return {str(row.id): float(row.score) for row in rows}
