"""Knowledge bases: documents cut into overlapping chunks, and ``search_knowledge``.

Ranking needs no model: the database ranks the chunks by full text (SQLite FTS5's BM25,
PostgreSQL's ``ts_rank``: :mod:`convoflow.store.knowledge_search`). When
``CONVOFLOW_LLM_EMBEDDING_MODEL`` is set (the chunks then carry embeddings), ranking is a
hybrid of the normalised full-text score and the cosine similarity of the query's
embedding, computed with numpy over the knowledge bases' chunks (pgvector is not
available; a business's knowledge bases hold hundreds of chunks, so this costs
milliseconds).

Uploading a document again under the same title replaces its chunks when its content
changed and changes nothing when it did not (``content_hash``); the same content under
another title is not stored twice either.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.knowledge_search import lexical_ranking
from convoflow.store.models import KnowledgeBase, KnowledgeChunk, KnowledgeDocument

CHUNK_CHARACTERS = 800
OVERLAP_CHARACTERS = 150
TOP_RESULTS = 4
#: A chunk needs at least this score (the full-text score over the best one's, or the
#: hybrid score with embeddings) to count as relevant.
MIN_RELEVANCE = 0.05
#: With embeddings, how many full-text matches are ranked alongside every chunk's vector.
HYBRID_CANDIDATES = 200
_VECTOR_WEIGHT = 0.6
_WORD = re.compile(r"\w+", re.UNICODE)
_TAG = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
        "can",
        "does",
    ]
)

Embedder = Callable[[list[str]], Awaitable[list[list[float]]]]


@dataclass(frozen=True, slots=True)
class Found:
    """A passage ``search_knowledge`` returns: its text, where it is from, its score."""

    text: str
    source: str
    score: float

    def to_json(self) -> dict[str, object]:
        """As the model gets it."""
        return {"text": self.text, "source": self.source, "score": round(self.score, 4)}


def plain_text(content: str, content_type: str) -> str:
    """The text of a document: HTML loses its tags, everything else is kept as it is."""
    if "html" in content_type:
        content = html.unescape(_TAG.sub(" ", content))
    return re.sub(r"[ \t]+", " ", content).strip()


def chunks_of(text: str) -> list[str]:
    """Cut ``text`` into chunks of about :data:`CHUNK_CHARACTERS`, overlapping by about
    :data:`OVERLAP_CHARACTERS`, preferring paragraph, line and sentence ends."""
    text = text.strip()
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + CHUNK_CHARACTERS, len(text))
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(". ") + 1)
            if cut > CHUNK_CHARACTERS // 2:
                end = start + cut
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        back = text.rfind(" ", start, max(end - OVERLAP_CHARACTERS, start + 1))
        start = back + 1 if back > start else end
    return chunks


def content_hash(text: str) -> str:
    """The sha256 of a document's text."""
    return hashlib.sha256(text.encode()).hexdigest()


async def store_document(
    db_session: AsyncSession,
    base: KnowledgeBase,
    *,
    title: str,
    text: str,
    content_type: str,
    now: datetime,
    embed: Embedder | None,
) -> tuple[KnowledgeDocument, bool]:
    """Store (or replace) a document's chunks; (document, whether anything changed)."""
    digest = content_hash(text)
    documents = KnowledgeDocument
    same = (
        await db_session.execute(
            select(documents).where(
                documents.knowledge_base_id == base.id,
                (documents.title == title) | (documents.content_hash == digest),
            )
        )
    ).scalars()
    existing = None
    for document in same:
        if document.content_hash == digest:
            return document, False
        existing = document
    pieces = chunks_of(text)
    vectors = await embed(pieces) if embed is not None and pieces else [None] * len(pieces)
    if existing is None:
        existing = KnowledgeDocument(knowledge_base_id=base.id, title=title, created_at=now)
        db_session.add(existing)
    existing.content_type = content_type
    existing.content_hash = digest
    existing.characters = len(text)
    existing.updated_at = now
    await db_session.flush()
    await db_session.execute(
        delete(KnowledgeChunk).where(KnowledgeChunk.document_id == existing.id)
    )
    db_session.add_all(
        KnowledgeChunk(
            knowledge_base_id=base.id,
            document_id=existing.id,
            position=number,
            text=piece,
            embedding=vector,
        )
        for number, (piece, vector) in enumerate(zip(pieces, vectors, strict=True))
    )
    base.updated_at = now
    return existing, True


def words(text: str) -> list[str]:
    """The lower-cased words of a text, without the commonest ones."""
    return [w for w in _WORD.findall(text.casefold()) if w not in _STOP_WORDS]


def cosines(query: Sequence[float], vectors: Sequence[Sequence[float] | None]) -> list[float]:
    """The cosine similarity of each vector to ``query`` (0 for a missing vector, one of
    another length, or a zero vector)."""
    wanted = len(query)
    if not wanted or not vectors:
        return [0.0] * len(vectors)
    usable = [v is not None and len(v) == wanted for v in vectors]
    matrix = np.array([v if ok else [0.0] * wanted for v, ok in zip(vectors, usable, strict=True)])
    target = np.asarray(query, dtype=float)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(target)
    dots = matrix @ target
    similarity = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return [float(value) if ok else 0.0 for value, ok in zip(similarity, usable, strict=True)]


async def search(
    db_session: AsyncSession,
    *,
    owner_id: str,
    names: Sequence[str],
    query: str,
    embed: Embedder | None,
    limit: int = TOP_RESULTS,
) -> list[Found]:
    """The best chunks of the owner's knowledge bases ``names`` for ``query``, best first;
    only chunks that share a word with the query (or, with embeddings, are close to it)."""
    chunks = (
        select(
            KnowledgeChunk.id,
            KnowledgeChunk.text,
            KnowledgeChunk.embedding,
            KnowledgeDocument.title,
        )
        .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgeChunk.document_id)
        .join(KnowledgeBase, KnowledgeBase.id == KnowledgeChunk.knowledge_base_id)
        .where(KnowledgeBase.owner_id == owner_id, KnowledgeBase.name.in_(list(names)))
    )
    embedded = chunks.where(KnowledgeChunk.embedding.is_not(None)).limit(1)
    hybrid = embed is not None and (await db_session.execute(embedded)).first() is not None
    lexical = await lexical_ranking(
        db_session,
        owner_id=owner_id,
        names=names,
        query_words=words(query),
        limit=HYBRID_CANDIDATES if hybrid else limit,
    )
    top = max(lexical.values(), default=0.0) or 1.0
    if not hybrid:
        if not lexical:
            return []
        rows = (await db_session.execute(chunks.where(KnowledgeChunk.id.in_(lexical)))).all()
        scored = [(lexical[row.id] / top, row) for row in rows]
    else:
        assert embed is not None
        rows = (await db_session.execute(chunks)).all()
        [vector] = await embed([query])
        similarity = cosines(vector, [row.embedding for row in rows])
        scored = [
            (
                (1 - _VECTOR_WEIGHT) * lexical.get(row.id, 0.0) / top
                + _VECTOR_WEIGHT * max(close, 0.0),
                row,
            )
            for row, close in zip(rows, similarity, strict=True)
        ]
    ranked = sorted(scored, key=lambda pair: (-pair[0], pair[1].id))
    found = [Found(row.text, row.title, score) for score, row in ranked]
    return [item for item in found if item.score >= MIN_RELEVANCE][:limit]
