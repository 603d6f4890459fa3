"""Knowledge bases: documents cut into overlapping chunks, and ``search_knowledge``.

Ranking is done in Python so it works the same on SQLite and PostgreSQL (pgvector is not
available): BM25 over the chunks' words, and, when ``CONVOFLOW_LLM_EMBEDDING_MODEL`` is set
(the chunks then carry embeddings), a hybrid of the normalised BM25 score and the cosine
similarity of the query's embedding. Knowledge bases of a business are small (hundreds of
chunks), so scoring them all per query costs milliseconds.

Uploading a document again under the same title replaces its chunks when its content
changed and changes nothing when it did not (``content_hash``); the same content under
another title is not stored twice either.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import KnowledgeBase, KnowledgeChunk, KnowledgeDocument

CHUNK_CHARACTERS = 800
OVERLAP_CHARACTERS = 150
TOP_RESULTS = 4
#: A chunk needs at least this BM25 score (or cosine, with embeddings) to count as relevant.
MIN_RELEVANCE = 0.05
_BM25_K1, _BM25_B = 1.2, 0.75
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


def bm25(query: Sequence[str], documents: Sequence[Sequence[str]]) -> list[float]:
    """The BM25 score of each document (a list of words) for the query words."""
    if not documents:
        return []
    average = sum(len(d) for d in documents) / len(documents) or 1.0
    having = Counter(word for document in documents for word in set(document))
    scores = []
    for document in documents:
        counts = Counter(document)
        score = 0.0
        for word in set(query):
            frequency = counts.get(word, 0)
            if not frequency:
                continue
            idf = math.log(1 + (len(documents) - having[word] + 0.5) / (having[word] + 0.5))
            norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * len(document) / average)
            score += idf * frequency * (_BM25_K1 + 1) / (frequency + norm)
        scores.append(score)
    return scores


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine similarity of two vectors (0 when either is empty or null)."""
    if len(a) != len(b) or not a:
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


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
    rows = (
        await db_session.execute(
            select(KnowledgeChunk.text, KnowledgeChunk.embedding, KnowledgeDocument.title)
            .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgeChunk.document_id)
            .join(KnowledgeBase, KnowledgeBase.id == KnowledgeChunk.knowledge_base_id)
            .where(KnowledgeBase.owner_id == owner_id, KnowledgeBase.name.in_(list(names)))
        )
    ).all()
    if not rows:
        return []
    lexical = bm25(words(query), [words(row.text) for row in rows])
    top = max(lexical) or 1.0
    scores = [score / top for score in lexical]
    if embed is not None and any(row.embedding for row in rows):
        [vector] = await embed([query])
        scores = [
            (1 - _VECTOR_WEIGHT) * lexical_score
            + _VECTOR_WEIGHT * max(cosine(vector, row.embedding or []), 0.0)
            for lexical_score, row in zip(scores, rows, strict=True)
        ]
    ranked = sorted(
        (Found(row.text, row.title, score) for score, row in zip(scores, rows, strict=True)),
        key=lambda found: -found.score,
    )
    return [found for found in ranked if found.score >= MIN_RELEVANCE][:limit]
