"""Template versioning, trigger lookup, inheritance chain and the refusals of bad data."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from convoflow.errors import Conflict, InvalidData
from convoflow.runtime import Runtime
from convoflow.store import accounts, ratings, templates
from convoflow.store.models import WorkflowTemplate
from convoflow.store.types import utcnow


def menu(text: str = "Hello") -> dict[str, Any]:
    return {"start": "a", "steps": [{"id": "a", "type": "end", "text": text}]}


def definition(name: str = "greet", **extra: Any) -> dict[str, Any]:
    return {
        "template_name": name,
        "template_type": "text",
        "trigger_keywords": [" Hi ", "hello"],
        "menu_structure": menu(),
        **extra,
    }


async def make_owner(runtime: Runtime, name: str = "alice") -> str:
    async with runtime.db_sessions.begin() as db_session:
        return (await accounts.create_user(db_session, username=name)).id


async def count_rows(runtime: Runtime) -> int:
    async with runtime.db_sessions() as db_session:
        return int((await db_session.execute(select(func.count(WorkflowTemplate.id)))).scalar_one())


async def test_changed_definition_creates_next_version_and_moves_latest(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    async with runtime.db_sessions.begin() as db_session:
        first = await templates.create_template(
            db_session, owner_id=owner_id, definition=definition()
        )
    async with runtime.db_sessions.begin() as db_session:
        result = await templates.upsert_template(
            db_session,
            owner_id=owner_id,
            definition=definition(menu_structure=menu("Hello again")),
            changelog="new greeting",
        )
    assert result.action == "updated"
    assert result.template.version == 2
    assert result.template.family_id == first.id
    assert result.template.changelog == "new greeting"
    async with runtime.db_sessions() as db_session:
        versions = await templates.versions_of(db_session, first.id)
    assert [(v.version, v.is_latest) for v in versions] == [(2, True), (1, False)]


async def test_unchanged_definition_creates_nothing(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    async with runtime.db_sessions.begin() as db_session:
        await templates.create_template(db_session, owner_id=owner_id, definition=definition())
    same_keywords = ["hi", "HELLO", "Hi"]
    async with runtime.db_sessions.begin() as db_session:
        result = await templates.upsert_template(
            db_session, owner_id=owner_id, definition=definition(trigger_keywords=same_keywords)
        )
    assert result.action == "unchanged"
    assert await count_rows(runtime) == 1


async def test_trigger_keywords_keep_the_order_given(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    keywords = ["Zebra", " apple ", "zebra", "buy   now", "  "]
    async with runtime.db_sessions.begin() as db_session:
        first = await templates.create_template(
            db_session, owner_id=owner_id, definition=definition(trigger_keywords=keywords)
        )
    async with runtime.db_sessions() as db_session:
        stored = await db_session.get(WorkflowTemplate, first.id, populate_existing=True)
        assert stored is not None
        assert stored.trigger_keywords == ["zebra", "apple", "buy now"]
        found = await templates.find_by_trigger(
            db_session, owner_ids=[owner_id], keyword="Buy Now "
        )
        assert [row.id for row in found] == [first.id]
    async with runtime.db_sessions.begin() as db_session:
        reordered = await templates.upsert_template(
            db_session,
            owner_id=owner_id,
            definition=definition(trigger_keywords=["apple", "zebra"]),
        )
    assert reordered.action == "updated"
    assert reordered.template.trigger_keywords == ["apple", "zebra"]


async def test_trigger_lookup_is_case_insensitive_and_only_active_latest(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    async with runtime.db_sessions.begin() as db_session:
        await templates.create_template(db_session, owner_id=owner_id, definition=definition())
        await templates.create_template(
            db_session,
            owner_id=owner_id,
            definition=definition("off", trigger_keywords=["hi"], is_active=False),
        )
    async with runtime.db_sessions.begin() as db_session:
        await templates.upsert_template(
            db_session, owner_id=owner_id, definition=definition(menu_structure=menu("v2"))
        )
    async with runtime.db_sessions() as db_session:
        found = await templates.find_by_trigger(db_session, owner_ids=[owner_id], keyword="HI ")
        nothing = await templates.find_by_trigger(db_session, owner_ids=[owner_id], keyword="h")
    assert [(t.template_name, t.version) for t in found] == [("greet", 2)]
    assert nothing == []


async def test_lineage_follows_base_templates_to_the_root(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    async with runtime.db_sessions.begin() as db_session:
        root = await templates.create_template(
            db_session, owner_id=owner_id, definition=definition()
        )
        child = await templates.create_template(
            db_session, owner_id=owner_id, definition=definition("child", base_template_id=root.id)
        )
        grandchild = await templates.create_template(
            db_session, owner_id=owner_id, definition=definition("grand", base_template_id=child.id)
        )
    async with runtime.db_sessions() as db_session:
        chain = await templates.lineage(db_session, grandchild.id)
    assert [t.template_name for t in chain] == ["grand", "child", "greet"]


async def test_duplicate_name_for_same_owner_is_refused(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    other_id = await make_owner(runtime, "bob")
    async with runtime.db_sessions.begin() as db_session:
        await templates.create_template(db_session, owner_id=owner_id, definition=definition())
        await templates.create_template(db_session, owner_id=other_id, definition=definition())
    with pytest.raises(Conflict, match="already exists"):
        async with runtime.db_sessions.begin() as db_session:
            await templates.create_template(db_session, owner_id=owner_id, definition=definition())
    assert await count_rows(runtime) == 2


async def test_database_refuses_second_latest_row_with_same_name(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    async with runtime.db_sessions.begin() as db_session:
        first = await templates.create_template(
            db_session, owner_id=owner_id, definition=definition()
        )
    with pytest.raises(IntegrityError):
        async with runtime.db_sessions.begin() as db_session:
            db_session.add(
                WorkflowTemplate(
                    family_id="x" * 26,
                    owner_id=owner_id,
                    template_name=first.template_name,
                    menu_structure=menu(),
                    config_hash="0" * 64,
                )
            )
    assert await count_rows(runtime) == 1


async def test_rating_out_of_range_is_refused_by_repository_and_database(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    async with runtime.db_sessions.begin() as db_session:
        row = await templates.create_template(
            db_session, owner_id=owner_id, definition=definition()
        )
    with pytest.raises(InvalidData, match="rating"):
        async with runtime.db_sessions.begin() as db_session:
            await ratings.save_rating(
                db_session, family_id=row.family_id, user_id=owner_id, rating=7, now=utcnow()
            )
    with pytest.raises(IntegrityError):
        async with runtime.db_sessions.begin() as db_session:
            stored = await db_session.get(WorkflowTemplate, row.id)
            assert stored is not None
            stored.rating = 7
    async with runtime.db_sessions() as db_session:
        stored = await db_session.get(WorkflowTemplate, row.id)
        assert stored is not None and stored.rating == 0


@pytest.mark.parametrize("workflow_type", ["chat", "", "PLAIN "])
async def test_unknown_workflow_type_is_refused_and_nothing_written(
    runtime: Runtime, workflow_type: str
) -> None:
    owner_id = await make_owner(runtime)
    if workflow_type == "":
        workflow_type = "none"
    with pytest.raises(InvalidData, match="workflow_type"):
        async with runtime.db_sessions.begin() as db_session:
            await templates.create_template(
                db_session, owner_id=owner_id, definition=definition(workflow_type=workflow_type)
            )
    assert await count_rows(runtime) == 0


async def test_database_check_refuses_unknown_workflow_type(runtime: Runtime) -> None:
    owner_id = await make_owner(runtime)
    with pytest.raises(IntegrityError):
        async with runtime.db_sessions.begin() as db_session:
            db_session.add(
                WorkflowTemplate(
                    family_id="y" * 26,
                    owner_id=owner_id,
                    template_name="bad",
                    workflow_type="chat",
                    menu_structure=menu(),
                    config_hash="1" * 64,
                )
            )
    assert await count_rows(runtime) == 0
