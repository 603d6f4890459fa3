"""Knowledge-base search ranked by the database (SQLite FTS5, PostgreSQL ts_rank), on both
databases: what matches, in which order, for whom, and the full-text structures kept in
step with the chunks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from convoflow.services.access import setup
from convoflow.services.ai import knowledge
from convoflow.store import accounts
from convoflow.store.models import KnowledgeChunk
from tests.ai.conftest import AiApp

GUIDE = {
    "Opening hours": "Our shop opens Monday to Friday from 9:00 to 18:00. "
    "On Saturday we open from 10:00 to 14:00.",
    "Returns": "You can return any item within 30 days with the receipt.",
    "Delivery": "We deliver parcels within two working days; express delivery is next day.",
}


async def base_with_guide(app: AiApp, name: str = "faq") -> str:
    created = await app.api("POST", "/api/knowledge-bases", json={"name": name})
    assert created.status_code == 201, created.text
    base_id: str = created.json()["id"]
    for title, content in GUIDE.items():
        stored = await app.api(
            "POST",
            f"/api/knowledge-bases/{base_id}/documents",
            json={"title": title, "content": content},
        )
        assert stored.status_code == 201, stored.text
    return base_id


async def search(app: AiApp, query: str, owner: str = "admin", **options: Any) -> list[str]:
    """The sources found for ``query`` in the owner's base ``faq``, best first."""
    async with app.runtime.db_sessions() as db_session:
        owner_id = (await accounts.get_user(db_session, owner)).id
        found = await knowledge.search(
            db_session,
            owner_id=owner_id,
            names=options.pop("names", ["faq"]),
            query=query,
            embed=None,
            **options,
        )
    return [item.source for item in found]


async def test_the_database_ranks_the_chunks_sharing_the_query_words(ai_app: AiApp) -> None:
    app = ai_app
    await base_with_guide(app)
    assert await search(app, "When do you open on Saturday?") == ["Opening hours"]
    assert set(await search(app, "return parcels")) == {"Returns", "Delivery"}
    assert await search(app, "parcel") == []  # words match whole, without stemming
    # More of the query's words (and rarer ones) rank higher.
    assert (await search(app, "express delivery next day parcels"))[0] == "Delivery"
    assert await search(app, "warranty") == []  # no shared word: nothing relevant
    assert await search(app, "the and of") == []  # only the commonest words
    # Full-text syntax in a question is just text.
    assert await search(app, "open\" OR NOT (saturday) AND * : | & '") == ["Opening hours"]
    assert await search(app, "saturday", limit=1) == ["Opening hours"]
    assert await search(app, "saturday", names=["other"]) == []


async def test_an_owner_searches_only_their_own_knowledge_bases(ai_app: AiApp) -> None:
    app = ai_app
    await base_with_guide(app)
    await setup.create_user_with_key(app.runtime.db_sessions, username="bakery")
    assert await search(app, "saturday", owner="bakery") == []


async def test_full_text_structures_follow_replaced_and_deleted_documents(
    ai_app: AiApp,
) -> None:
    app = ai_app
    base_id = await base_with_guide(app)
    replaced = await app.api(
        "POST",
        f"/api/knowledge-bases/{base_id}/documents",
        json={"title": "Returns", "content": "Refunds are paid back within a week."},
    )
    assert replaced.status_code == 201 and replaced.json()["changed"] is True
    assert await search(app, "receipt") == []  # the old text is gone from the index
    assert await search(app, "refunds") == ["Returns"]

    listed = (await app.api("GET", f"/api/knowledge-bases/{base_id}/documents")).json()
    delivery = next(d for d in listed["items"] if d["title"] == "Delivery")
    gone = await app.api("DELETE", f"/api/knowledge-bases/{base_id}/documents/{delivery['id']}")
    assert gone.status_code == 200, gone.text
    assert await search(app, "parcels") == []

    async with app.runtime.db_sessions() as db_session:
        chunks = await db_session.scalar(select(func.count()).select_from(KnowledgeChunk))
        if db_session.bind.dialect.name == "sqlite":
            indexed = await db_session.scalar(text("SELECT count(*) FROM knowledge_chunks_fts"))
            assert indexed == chunks == 2  # one entry per chunk, no stale ones
        else:
            index = await db_session.scalar(
                text(
                    "SELECT indexdef FROM pg_indexes "
                    "WHERE indexname = 'ix_knowledge_chunks_text_search'"
                )
            )
            assert "gin" in index and "search_vector" in index
            assert chunks == 2
