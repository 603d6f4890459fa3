"""Which customers may start which templates: user types, permissions and contacts.

A template with no permission rows is open to every customer; otherwise only customers
whose contact has one of the permitted user types may start it, by trigger (the catalog
checks) or through the API (:func:`check_permitted`, 403). A permission names one version
id but covers the whole template family. Every change forgets the catalog's indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from convoflow.errors import Conflict, Forbidden, InvalidData, NotFound
from convoflow.services.access.callers import Caller, own_template
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.store.contacts import find_contact
from convoflow.store.local_channels import real_customer
from convoflow.store.models import Contact, TemplatePermission, UserType, WorkflowTemplate
from convoflow.store.paging import PageRequest, read_page


@dataclass(frozen=True, slots=True)
class PermissionView:
    """A permission with the names an admin reads it by."""

    permission: TemplatePermission
    user_type_name: str
    template_name: str
    family_id: str


async def allowed_user_types(db_session: AsyncSession, family_id: str) -> set[str]:
    """The user types permitted to start a template family (empty: open to all)."""
    granted = await db_session.execute(
        select(TemplatePermission.user_type_id)
        .join(WorkflowTemplate, WorkflowTemplate.id == TemplatePermission.workflow_template_id)
        .where(WorkflowTemplate.family_id == family_id)
    )
    return set(granted.scalars())


async def check_permitted(
    db_session: AsyncSession, template: WorkflowTemplate, contact: Contact | None, reference: str
) -> None:
    """Refuse (Forbidden) a customer whose user type may not start the template."""
    allowed = await allowed_user_types(db_session, template.family_id)
    if not allowed or (contact is not None and contact.user_type_id in allowed):
        return
    who = f"customer {reference!r}" if reference else "an unnamed customer"
    raise Forbidden(f"{who} is not permitted to start {template.template_name!r}")


# -- user types -----------------------------------------------------------------------


async def _own_user_type(db_session: AsyncSession, caller: Caller, user_type_id: str) -> UserType:
    row = await db_session.get(UserType, user_type_id)
    if row is None or row.owner_id != caller.id:
        raise NotFound(f"user type {user_type_id} does not exist")
    return row


async def _name_free(
    db_session: AsyncSession, caller: Caller, name: str, exclude: str = ""
) -> None:
    clash = await db_session.scalar(
        select(UserType.id).where(
            UserType.owner_id == caller.id, UserType.name == name, UserType.id != exclude
        )
    )
    if clash is not None:
        raise Conflict(f"a user type named {name!r} already exists")


async def create_user_type(
    db_session: AsyncSession, *, caller: Caller, name: str, description: str
) -> UserType:
    """A new kind of customer, e.g. ``verified_users``."""
    async with db_session.begin():
        await _name_free(db_session, caller, name)
        row = UserType(owner_id=caller.id, name=name, description=description)
        db_session.add(row)
        await db_session.flush()
        return row


async def list_user_types(
    db_session: AsyncSession, *, caller: Caller, page: PageRequest
) -> tuple[list[UserType], int]:
    """One page of the caller's user types, by name, and how many there are."""
    query = (
        select(UserType).where(UserType.owner_id == caller.id).order_by(UserType.name, UserType.id)
    )
    async with db_session.begin():
        rows, total = await read_page(db_session, query, page)
        return list(rows.scalars()), total


async def get_user_type(db_session: AsyncSession, *, caller: Caller, user_type_id: str) -> UserType:
    """One of the caller's user types."""
    async with db_session.begin():
        return await _own_user_type(db_session, caller, user_type_id)


async def update_user_type(
    db_session: AsyncSession,
    *,
    caller: Caller,
    user_type_id: str,
    name: str | None,
    description: str | None,
) -> UserType:
    """Rename or describe a user type."""
    async with db_session.begin():
        row = await _own_user_type(db_session, caller, user_type_id)
        if name is not None and name != row.name:
            await _name_free(db_session, caller, name, exclude=row.id)
            row.name = name
        if description is not None:
            row.description = description
        await db_session.flush()
        return row


async def delete_user_type(
    db_session: AsyncSession, catalog: TemplateCatalog, *, caller: Caller, user_type_id: str
) -> None:
    """Delete a user type; its permissions go, its contacts keep no type."""
    async with db_session.begin():
        row = await _own_user_type(db_session, caller, user_type_id)
        await db_session.delete(row)
    catalog.invalidate()


# -- permissions ----------------------------------------------------------------------


def _views_query(
    caller: Caller, *conditions: ColumnElement[bool]
) -> Select[TemplatePermission, str, str, str]:
    template = aliased(WorkflowTemplate)
    return (
        select(TemplatePermission, UserType.name, template.template_name, template.family_id)
        .join(UserType, UserType.id == TemplatePermission.user_type_id)
        .join(template, template.id == TemplatePermission.workflow_template_id)
        .where(UserType.owner_id == caller.id, *conditions)
        .order_by(TemplatePermission.created_at, TemplatePermission.id)
    )


async def _views(
    db_session: AsyncSession, caller: Caller, *conditions: ColumnElement[bool]
) -> list[PermissionView]:
    rows = await db_session.execute(_views_query(caller, *conditions))
    return [PermissionView(*row) for row in rows.tuples()]


async def grant(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    user_type_id: str,
    template_id: str,
) -> PermissionView:
    """Permit a user type to start one of the caller's templates (every version)."""
    async with db_session.begin():
        user_type = await _own_user_type(db_session, caller, user_type_id)
        template = await own_template(db_session, caller, template_id)
        if user_type.id in await allowed_user_types(db_session, template.family_id):
            raise Conflict(f"{user_type.name!r} may already start {template.template_name!r}")
        row = TemplatePermission(user_type_id=user_type.id, workflow_template_id=template.id)
        db_session.add(row)
        await db_session.flush()
        view = PermissionView(row, user_type.name, template.template_name, template.family_id)
    catalog.invalidate()
    return view


async def list_permissions(
    db_session: AsyncSession,
    *,
    caller: Caller,
    template_id: str | None,
    user_type_id: str | None,
    page: PageRequest,
) -> tuple[list[PermissionView], int]:
    """One page of the caller's permissions (optionally for one template family or user
    type), oldest first, and how many match."""
    conditions: list[ColumnElement[bool]] = []
    async with db_session.begin():
        if template_id is not None:
            family = await db_session.scalar(
                select(WorkflowTemplate.family_id).where(WorkflowTemplate.id == template_id)
            )
            family_versions = select(WorkflowTemplate.id).where(
                WorkflowTemplate.family_id == (family or template_id)
            )
            conditions.append(TemplatePermission.workflow_template_id.in_(family_versions))
        if user_type_id is not None:
            conditions.append(TemplatePermission.user_type_id == user_type_id)
        rows, total = await read_page(db_session, _views_query(caller, *conditions), page)
        return [PermissionView(*row) for row in rows.tuples()], total


async def revoke(
    db_session: AsyncSession, catalog: TemplateCatalog, *, caller: Caller, permission_id: str
) -> None:
    """Remove one of the caller's permissions."""
    async with db_session.begin():
        views = await _views(db_session, caller, TemplatePermission.id == permission_id)
        if not views:
            raise NotFound(f"permission {permission_id} does not exist")
        await db_session.delete(views[0].permission)
    catalog.invalidate()


# -- contacts -------------------------------------------------------------------------


async def list_contacts(
    db_session: AsyncSession,
    *,
    caller: Caller,
    user_type_id: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Contact], int]:
    """One page of the caller's customers, newest first, and the total (the builder
    simulator's test customers are none)."""
    query = select(Contact).where(
        Contact.owner_id == caller.id, real_customer(Contact.customer_key)
    )
    if user_type_id is not None:
        query = query.where(Contact.user_type_id == user_type_id)
    if q:
        query = query.where(
            or_(
                Contact.name.icontains(q, autoescape=True),
                Contact.customer_key.icontains(q, autoescape=True),
            )
        )
    async with db_session.begin():
        total = await db_session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await db_session.execute(
            query.order_by(Contact.last_seen_at.desc(), Contact.id).limit(limit).offset(offset)
        )
        return list(rows.scalars()), int(total or 0)


async def get_contact(db_session: AsyncSession, *, caller: Caller, reference: str) -> Contact:
    """A customer by contact id, customer key or WhatsApp id."""
    async with db_session.begin():
        contact = await find_contact(db_session, caller.id, reference)
        if contact is None:
            raise NotFound(f"contact {reference} does not exist")
        return contact


async def set_contact(
    db_session: AsyncSession,
    *,
    caller: Caller,
    reference: str,
    user_type_id: str | None,
    name: str | None,
    create: bool,
    now: datetime,
) -> Contact:
    """Set a customer's user type (and name); with ``create``, add an unknown customer."""
    async with db_session.begin():
        if user_type_id is not None:
            try:
                await _own_user_type(db_session, caller, user_type_id)
            except NotFound:
                raise InvalidData("user_type_id", "no such user type") from None
        contact = await find_contact(db_session, caller.id, reference)
        if contact is None:
            if not create:
                raise NotFound(f"contact {reference} does not exist")
            contact = _new_contact(caller, reference, now)
            db_session.add(contact)
        contact.user_type_id = user_type_id
        if name is not None:
            contact.name = name
        await db_session.flush()
        return contact


def _new_contact(caller: Caller, reference: str, now: datetime) -> Contact:
    digits = reference.isascii() and reference.isdigit() and len(reference) <= 32
    return Contact(
        owner_id=caller.id,
        customer_key=reference,
        wa_id=reference if digits else None,
        bsuid=None if digits else reference,
        name="",
        first_seen_at=now,
        last_seen_at=now,
        opted_out=False,
    )
