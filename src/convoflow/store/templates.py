"""Template repository: versioning by config hash, trigger lookup, inheritance chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, delete, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from convoflow.errors import Conflict, InvalidArgument, InvalidData, NotFound
from convoflow.store.models import DraftSnapshot, WorkflowTemplate
from convoflow.store.models.templates import TEMPLATE_TYPES, WORKFLOW_TYPES
from convoflow.store.types import new_id

#: The fields that make up a template's definition; their canonical JSON is hashed into
#: ``config_hash``, so saving an unchanged definition creates no new version.
DEFINITION_FIELDS: tuple[str, ...] = (
    "description",
    "template_type",
    "workflow_type",
    "category",
    "trigger_keywords",
    "menu_structure",
    "guidelines",
    "state_schema",
    "workflow_dependencies",
    "end_action_type",
    "end_action_target",
    "default_params",
    "required_tools",
    "required_retrievers",
    "session_ttl_seconds",
    "base_template_id",
    "is_public",
    "is_active",
    "tags",
    "extra_metadata",
    "estimated_complexity",
)
#: Statistics carried from one version to the next (they describe the template family).
STATISTIC_FIELDS: tuple[str, ...] = (
    "usage_count",
    "success_count",
    "success_rate",
    "avg_response_time_ms",
    "last_used_at",
    "rating",
    "rating_count",
    "total_tokens_used",
    "total_cost",
    "avg_tokens_per_use",
)
LIST_FIELDS = ("trigger_keywords", "required_tools", "required_retrievers", "tags")
DICT_FIELDS = ("state_schema", "default_params", "extra_metadata")


def normalise_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Fill defaults and normalise a definition; raise :class:`InvalidData` on bad values."""
    name = str(definition.get("template_name") or definition.get("name") or "").strip()
    if not name:
        raise InvalidData("template_name", "is required")
    if len(name) > 200:
        raise InvalidData("template_name", "is longer than 200 characters")
    result: dict[str, Any] = {"template_name": name}
    for field in DEFINITION_FIELDS:
        result[field] = definition.get(field)
    for field in LIST_FIELDS:
        result[field] = [str(item) for item in (result[field] or [])]
    for field in DICT_FIELDS:
        result[field] = dict(result[field] or {})
    result["trigger_keywords"] = ordered_keywords(result["trigger_keywords"])
    result["workflow_dependencies"] = list(result["workflow_dependencies"] or [])
    result["description"] = str(result["description"] or "")
    result["template_type"] = result["template_type"] or "flow"
    result["workflow_type"] = result["workflow_type"] or "plain"
    result["category"] = str(result["category"] or "custom").strip().lower()
    result["is_public"] = bool(result["is_public"])
    result["is_active"] = True if result["is_active"] is None else bool(result["is_active"])
    if result["template_type"] not in TEMPLATE_TYPES:
        raise InvalidData("template_type", f"must be one of {', '.join(TEMPLATE_TYPES)}")
    if result["workflow_type"] not in WORKFLOW_TYPES:
        raise InvalidData("workflow_type", f"must be one of {', '.join(WORKFLOW_TYPES)}")
    if not isinstance(result["menu_structure"], dict):
        raise InvalidData("menu_structure", "is required and must be an object")
    ttl = result["session_ttl_seconds"]
    if ttl is not None and (not isinstance(ttl, int) or ttl < 60):
        raise InvalidData("session_ttl_seconds", "must be a whole number of seconds, at least 60")
    return result


def ordered_keywords(keywords: Sequence[str]) -> list[str]:
    """Trigger keywords as compared (trimmed, case folded, inner spaces collapsed).

    The order given is kept (a Flow Runner serves its trigger list back as it was sent);
    a keyword given twice keeps its first place, and blank ones are dropped.
    """
    normalised = (" ".join(keyword.split()).lower() for keyword in keywords)
    return list(dict.fromkeys(keyword for keyword in normalised if keyword))


def compute_config_hash(definition: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a normalised definition (name included)."""
    canonical = {field: definition.get(field) for field in ("template_name", *DEFINITION_FIELDS)}
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What a save did: ``action`` is ``created``, ``updated`` (new version) or ``unchanged``."""

    template: WorkflowTemplate
    action: str


def latest_query(owner_id: str, name: str) -> Select[WorkflowTemplate]:
    """The latest version of ``name`` owned by ``owner_id``."""
    return select(WorkflowTemplate).where(
        WorkflowTemplate.owner_id == owner_id,
        WorkflowTemplate.template_name == name,
        WorkflowTemplate.is_latest.is_(True),
    )


async def find_latest(
    db_session: AsyncSession, *, owner_id: str, name: str
) -> WorkflowTemplate | None:
    """The latest version of an owner's template by name, or None."""
    return (await db_session.execute(latest_query(owner_id, name))).scalar_one_or_none()


async def create_template(
    db_session: AsyncSession,
    *,
    owner_id: str,
    definition: Mapping[str, Any],
    is_builtin: bool = False,
    changelog: str | None = None,
) -> WorkflowTemplate:
    """Insert version 1 of a new template; a name the owner already uses is a Conflict."""
    data = normalise_definition(definition)
    if await find_latest(db_session, owner_id=owner_id, name=data["template_name"]) is not None:
        raise Conflict(f"a template named {data['template_name']!r} already exists")
    template_id = new_id()
    row = WorkflowTemplate(
        id=template_id,
        family_id=template_id,
        owner_id=owner_id,
        version=1,
        is_latest=True,
        is_builtin=is_builtin,
        changelog=changelog,
        config_hash=compute_config_hash(data),
        **data,
    )
    db_session.add(row)
    await db_session.flush()
    return row


async def create_snapshot(
    db_session: AsyncSession, *, owner_id: str, version: int, definition: Mapping[str, Any]
) -> WorkflowTemplate:
    """Insert a template row that is never latest nor active, in a family of its own (a
    snapshot of a draft for the simulator: no list, trigger or name lookup finds it)."""
    data = normalise_definition(definition)
    template_id = new_id()
    row = WorkflowTemplate(
        id=template_id,
        family_id=template_id,
        owner_id=owner_id,
        version=version,
        is_latest=False,
        changelog="draft",
        config_hash=compute_config_hash(data),
        **{**data, "is_active": False, "is_public": False},
    )
    db_session.add(row)
    await db_session.flush()
    return row


async def save_new_version(
    db_session: AsyncSession,
    *,
    current: WorkflowTemplate,
    definition: Mapping[str, Any],
    changelog: str | None = None,
) -> SaveResult:
    """Write version n+1 of ``current`` unless the definition is unchanged.

    The previous latest row is locked (``FOR UPDATE`` on PostgreSQL) so two concurrent
    saves cannot both create the same version number.
    """
    data = normalise_definition({**_definition_of(current), **definition})
    config_hash = compute_config_hash(data)
    locked = (
        await db_session.execute(
            select(WorkflowTemplate)
            .where(WorkflowTemplate.id == current.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if not locked.is_latest:
        raise Conflict("the template was changed meanwhile; reload the latest version")
    if locked.config_hash == config_hash:
        return SaveResult(locked, "unchanged")
    # A superseded version starts nothing new (conversations pinned to it still finish), so
    # the operator's `... AND is_active` queries see one row per template.
    locked.is_latest = False
    locked.is_active = False
    await db_session.flush()
    new_row = WorkflowTemplate(
        id=new_id(),
        family_id=locked.family_id,
        owner_id=locked.owner_id,
        version=locked.version + 1,
        is_latest=True,
        is_builtin=locked.is_builtin,
        changelog=changelog,
        config_hash=config_hash,
        **data,
        **{field: getattr(locked, field) for field in STATISTIC_FIELDS},
    )
    db_session.add(new_row)
    await db_session.flush()
    return SaveResult(new_row, "updated")


async def upsert_template(
    db_session: AsyncSession,
    *,
    owner_id: str,
    definition: Mapping[str, Any],
    is_builtin: bool = False,
    changelog: str | None = None,
) -> SaveResult:
    """Create the template, or write a new version if its definition changed.

    A built-in (``is_builtin``) is only brought up to date while its latest version is still
    one the seed wrote (same ``changelog``): once an owner has published their own version of
    it (say, the built-in loan_application turned into an AI template), every later start
    leaves their version alone instead of writing the shipped one back over it.
    """
    data = normalise_definition(definition)
    current = await find_latest(db_session, owner_id=owner_id, name=data["template_name"])
    if current is None:
        row = await create_template(
            db_session,
            owner_id=owner_id,
            definition=data,
            is_builtin=is_builtin,
            changelog=changelog,
        )
        return SaveResult(row, "created")
    if is_builtin and current.changelog != changelog:
        return SaveResult(current, "unchanged")
    return await save_new_version(db_session, current=current, definition=data, changelog=changelog)


def _definition_of(row: WorkflowTemplate) -> dict[str, Any]:
    return {"template_name": row.template_name} | {f: getattr(row, f) for f in DEFINITION_FIELDS}


def trigger_match(db_session: AsyncSession, keyword: str) -> Any:
    """A SQL condition: ``keyword`` is one of the template's trigger keywords.

    PostgreSQL uses ``keyword = ANY(trigger_keywords)`` (GIN-indexed via ``@>``); SQLite
    looks inside the JSON array with ``json_each``.
    """
    keyword = " ".join(keyword.split()).lower()
    if db_session.bind is not None and db_session.bind.dialect.name == "postgresql":
        return text(
            "workflow_templates.trigger_keywords @> ARRAY[CAST(:trigger_keyword AS TEXT)]"
        ).bindparams(trigger_keyword=keyword)
    return text(
        "EXISTS (SELECT 1 FROM json_each(workflow_templates.trigger_keywords) "
        "WHERE json_each.value = :trigger_keyword)"
    ).bindparams(trigger_keyword=keyword)


async def find_by_trigger(
    db_session: AsyncSession, *, owner_ids: Sequence[str], keyword: str
) -> list[WorkflowTemplate]:
    """Active latest templates of these owners triggered by ``keyword`` (oldest first)."""
    query = (
        select(WorkflowTemplate)
        .where(
            WorkflowTemplate.owner_id.in_(owner_ids),
            WorkflowTemplate.is_latest.is_(True),
            WorkflowTemplate.is_active.is_(True),
            trigger_match(db_session, keyword),
        )
        .order_by(WorkflowTemplate.created_at)
    )
    return list((await db_session.execute(query)).scalars())


async def lineage(db_session: AsyncSession, template_id: str) -> list[WorkflowTemplate]:
    """The inheritance chain from ``template_id`` up to its root, in one recursive query."""
    chain = (
        select(WorkflowTemplate.id, WorkflowTemplate.base_template_id, literal(0).label("depth"))
        .where(WorkflowTemplate.id == template_id)
        .cte("chain", recursive=True)
    )
    parent = aliased(WorkflowTemplate)
    chain = chain.union_all(
        select(parent.id, parent.base_template_id, (chain.c.depth + 1).label("depth"))
        .join(chain, parent.id == chain.c.base_template_id)
        .where(chain.c.depth < 100)
    )
    query = (
        select(WorkflowTemplate)
        .join(chain, WorkflowTemplate.id == chain.c.id)
        .order_by(chain.c.depth)
    )
    rows = list((await db_session.execute(query)).scalars())
    if not rows:
        raise NotFound(f"template {template_id} does not exist")
    return rows


def versions_query(family_id: str) -> Select[WorkflowTemplate]:
    """Every version of a template family, newest first."""
    return (
        select(WorkflowTemplate)
        .where(WorkflowTemplate.family_id == family_id)
        .order_by(WorkflowTemplate.version.desc())
    )


async def versions_of(db_session: AsyncSession, family_id: str) -> list[WorkflowTemplate]:
    """Every version of a template family, newest first."""
    return list((await db_session.execute(versions_query(family_id))).scalars())


async def count_latest(db_session: AsyncSession, owner_id: str) -> int:
    """How many templates (latest versions) an owner has."""
    query = select(func.count()).where(
        and_(WorkflowTemplate.owner_id == owner_id, WorkflowTemplate.is_latest.is_(True))
    )
    return int((await db_session.execute(query)).scalar_one())


async def set_active(db_session: AsyncSession, *, template: WorkflowTemplate, active: bool) -> None:
    """Activate or deactivate a version in place (no new version); its hash follows."""
    template.is_active = active
    template.config_hash = compute_config_hash(normalise_definition(_definition_of(template)))
    await db_session.flush()


def list_contains(db_session: AsyncSession, column: str, value: str) -> Any:
    """A SQL condition: the ``workflow_templates`` list ``column`` holds ``value``.

    ``column`` is one of :data:`LIST_FIELDS`; PostgreSQL uses ``@>`` on the array, SQLite
    looks inside the JSON array with ``json_each``.
    """
    if column not in LIST_FIELDS:
        raise InvalidArgument(f"{column} is not a list column")
    if db_session.bind is not None and db_session.bind.dialect.name == "postgresql":
        return text(f"workflow_templates.{column} @> ARRAY[CAST(:list_value AS TEXT)]").bindparams(
            list_value=value
        )
    return text(
        f"EXISTS (SELECT 1 FROM json_each(workflow_templates.{column}) "
        "WHERE json_each.value = :list_value)"
    ).bindparams(list_value=value)


async def delete_family(db_session: AsyncSession, family_id: str) -> int:
    """Delete every version of a template family (permissions and history cascade), and the
    snapshots of its draft the simulator ran; returns how many versions were deleted."""
    snapshots = select(DraftSnapshot.template_id).where(DraftSnapshot.family_id == family_id)
    await db_session.execute(delete(WorkflowTemplate).where(WorkflowTemplate.id.in_(snapshots)))
    result = await db_session.execute(
        delete(WorkflowTemplate).where(WorkflowTemplate.family_id == family_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)
