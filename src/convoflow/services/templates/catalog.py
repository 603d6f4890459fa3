"""The template catalog: engine templates by version id, and the trigger index per owner.

Template versions are immutable, so the compiled engine template of a version id is cached
for the life of the process. The trigger index (keyword → templates, with their permission
gates) is rebuilt at most every ``TRIGGER_INDEX_TTL_SECONDS`` or when this process changed
a template, so the hot path of an inbound message does not query the template tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from convoflow.clock import Clock, SystemClock
from convoflow.engine import Template
from convoflow.errors import NotFound
from convoflow.store.models import TemplatePermission, User, WorkflowTemplate

TRIGGER_INDEX_TTL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """A startable template version: what a trigger or a name resolves to."""

    template_id: str
    family_id: str
    name: str
    owner_id: str
    session_ttl_seconds: int | None
    allowed_user_types: frozenset[str] | None  # None: open to every customer

    def permits(self, user_type_id: str | None) -> bool:
        """Whether a customer of this type may start the template."""
        return self.allowed_user_types is None or user_type_id in self.allowed_user_types


@dataclass(slots=True)
class _OwnerIndex:
    built_at: float
    by_keyword: dict[str, list[TemplateRef]]
    by_name: dict[str, TemplateRef]
    fallback: TemplateRef | None


def normalise_keyword(text: str) -> str:
    """Trim, fold case and collapse inner whitespace: how triggers are compared."""
    return " ".join(text.split()).lower()


class TemplateCatalog:
    """Process-wide cache of compiled templates and of each owner's trigger index."""

    def __init__(
        self, *, ttl_seconds: float = TRIGGER_INDEX_TTL_SECONDS, clock: Clock = SystemClock()
    ) -> None:
        self.clock = clock
        self._compiled: dict[str, tuple[WorkflowTemplate, Template]] = {}
        self._indexes: dict[str, _OwnerIndex] = {}
        self._ttl = ttl_seconds

    def invalidate(self) -> None:
        """Forget the trigger indexes (a template or permission changed)."""
        self._indexes.clear()

    async def compiled(
        self, db_session: AsyncSession, template_id: str
    ) -> tuple[WorkflowTemplate, Template]:
        """The row and engine template of a version (cached: versions never change)."""
        cached = self._compiled.get(template_id)
        if cached is not None:
            return cached
        row = await db_session.get(WorkflowTemplate, template_id)
        if row is None:
            raise NotFound(f"template version {template_id} does not exist")
        db_session.expunge(row)
        template = compile_row(row)
        self._compiled[template_id] = (row, template)
        return row, template

    def cached(self, template_id: str) -> tuple[WorkflowTemplate, Template] | None:
        """The compiled version if this process already loaded it."""
        return self._compiled.get(template_id)

    async def by_trigger(
        self, db_session: AsyncSession, *, owner_id: str, text: str
    ) -> list[TemplateRef]:
        """Templates whose trigger is ``text`` (the owner's own first, then built-ins)."""
        index = await self._index(db_session, owner_id)
        return index.by_keyword.get(normalise_keyword(text), [])

    async def by_name(
        self, db_session: AsyncSession, *, owner_id: str, name: str
    ) -> TemplateRef | None:
        """The active latest template of that name (the owner's own, else a built-in)."""
        index = await self._index(db_session, owner_id)
        return index.by_name.get(name)

    async def fallback(self, db_session: AsyncSession, *, owner_id: str) -> TemplateRef | None:
        """The owner's fallback template (started when no trigger matches), if set."""
        return (await self._index(db_session, owner_id)).fallback

    async def _index(self, db_session: AsyncSession, owner_id: str) -> _OwnerIndex:
        index = self._indexes.get(owner_id)
        if index is not None and self.clock.monotonic() - index.built_at < self._ttl:
            return index
        index = await _build_index(db_session, owner_id, self.clock.monotonic())
        self._indexes[owner_id] = index
        return index


async def template_ref(
    db_session: AsyncSession, row: WorkflowTemplate, *, family_id: str | None = None
) -> TemplateRef:
    """A startable reference to the version ``row``, gated by the customer-type permissions
    of ``family_id`` (default: its own family; a draft's snapshot takes its template's)."""
    granted = aliased(WorkflowTemplate)
    allowed = set(
        (
            await db_session.execute(
                select(TemplatePermission.user_type_id)
                .join(granted, granted.id == TemplatePermission.workflow_template_id)
                .where(granted.family_id == (family_id or row.family_id))
            )
        ).scalars()
    )
    return TemplateRef(
        template_id=row.id,
        family_id=row.family_id,
        name=row.template_name,
        owner_id=row.owner_id,
        session_ttl_seconds=row.session_ttl_seconds,
        allowed_user_types=frozenset(allowed) if allowed else None,
    )


def compile_row(row: WorkflowTemplate) -> Template:
    """The engine template of a stored version."""
    return Template.from_parts(
        name=row.template_name,
        version=row.version,
        menu_structure=row.menu_structure,
        state_schema=row.state_schema,
        end_action_type=row.end_action_type,
        end_action_target=row.end_action_target,
        default_params=row.default_params,
        guidelines=row.guidelines,
        workflow_type=row.workflow_type,
        required_tools=row.required_tools,
        required_retrievers=row.required_retrievers,
    )


async def _build_index(db_session: AsyncSession, owner_id: str, built_at: float) -> _OwnerIndex:
    found = (
        await db_session.execute(
            select(WorkflowTemplate)
            .where(
                WorkflowTemplate.is_latest.is_(True),
                WorkflowTemplate.is_active.is_(True),
                or_(WorkflowTemplate.owner_id == owner_id, WorkflowTemplate.is_builtin.is_(True)),
            )
            .order_by(WorkflowTemplate.created_at)
        )
    ).scalars()
    rows = sorted(found, key=lambda row: row.owner_id != owner_id)  # own templates first
    granted = aliased(WorkflowTemplate)
    permissions: dict[str, set[str]] = defaultdict(set)
    families = {row.family_id for row in rows}
    for family_id, user_type_id in await db_session.execute(
        select(granted.family_id, TemplatePermission.user_type_id)
        .join(granted, granted.id == TemplatePermission.workflow_template_id)
        .where(granted.family_id.in_(families))
    ):
        permissions[family_id].add(user_type_id)
    by_keyword: dict[str, list[TemplateRef]] = defaultdict(list)
    by_name: dict[str, TemplateRef] = {}
    for row in rows:
        allowed = permissions.get(row.family_id)
        ref = TemplateRef(
            template_id=row.id,
            family_id=row.family_id,
            name=row.template_name,
            owner_id=row.owner_id,
            session_ttl_seconds=row.session_ttl_seconds,
            allowed_user_types=frozenset(allowed) if allowed else None,
        )
        by_name.setdefault(row.template_name, ref)
        for keyword in row.trigger_keywords:
            by_keyword[normalise_keyword(keyword)].append(ref)
    fallback_name = (
        await db_session.execute(select(User.fallback_template_name).where(User.id == owner_id))
    ).scalar_one_or_none()
    fallback = by_name.get(fallback_name) if fallback_name else None
    return _OwnerIndex(built_at, dict(by_keyword), by_name, fallback)
