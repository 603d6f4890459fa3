"""What a campaign sends: its approved template with parameters rendered per recipient.

The parameter mapping gives, per template component, one text per placeholder. Texts may
use ``{{contact.name}}``, ``{{contact.phone}}``, ``{{recipient.<column>}}`` (a CSV column
or a recipientArray field) and ``{{campaign.name}}``::

    {"body": ["{{contact.name}}", "{{recipient.discount}}"], "header": ["Spring sale"]}

When the owner's templates were synced, the template must be there, APPROVED, and the
mapping must give each component exactly as many texts as it has placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.messages import template_message
from convoflow.engine.render import render
from convoflow.errors import InvalidData
from convoflow.services.campaigns.template_parameters import send_components
from convoflow.store.message_templates import find_message_template, has_message_templates
from convoflow.store.models import MarketingCampaign

__all__ = ["check_template", "recipient_variables", "render_payload"]

MAX_PARAMETER_TEXT = 1024


def recipient_variables(
    campaign_name: str, columns: Mapping[str, Any], contact_name: str, customer_key: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The variables and the contact fields a recipient's texts are rendered with."""
    variables = {"campaign": {"name": campaign_name}, "recipient": dict(columns)}
    name = contact_name or str(columns.get("name") or "")
    return variables, {"name": name, "phone": customer_key}


def render_payload(
    campaign: MarketingCampaign,
    parameters: Mapping[str, Sequence[str]] | None,
    *,
    columns: Mapping[str, Any],
    contact_name: str,
    customer_key: str,
) -> dict[str, Any]:
    """The Graph message body (``type: template``) for one recipient.

    ``parameters`` is the synced template's placeholder names per component (None when
    the templates were not synced: positional parameters are assumed).
    """
    variables, contact = recipient_variables(campaign.name, columns, contact_name, customer_key)
    values = {
        key: [render(text, variables, contact)[:MAX_PARAMETER_TEXT] for text in texts]
        for key, texts in (campaign.parameters or {}).items()
    }
    components = send_components(parameters or {}, values)
    return template_message(campaign.template_name, campaign.template_language, components)


async def check_template(
    db_session: AsyncSession,
    *,
    owner_id: str,
    name: str,
    language: str,
    mapping: Mapping[str, Sequence[str]],
    field: str = "template",
) -> dict[str, list[str]] | None:
    """Check the template and the mapping against the synced templates, when synced;
    returns the template's placeholders per component (None: nothing synced)."""
    if not await has_message_templates(db_session, owner_id):
        return None
    row = await find_message_template(db_session, owner_id, name, language)
    if row is None:
        raise InvalidData(f"{field}.name", f"no synced template {name!r} in language {language!r}")
    if row.status != "APPROVED":
        raise InvalidData(f"{field}.name", f"template {name!r} is {row.status}, not APPROVED")
    expected: dict[str, list[str]] = {k: list(v) for k, v in (row.parameters or {}).items()}
    for key in set(expected) | set(mapping):
        want, got = len(expected.get(key, [])), len(mapping.get(key, []))
        if want != got:
            raise InvalidData(
                f"parameters.{key}",
                f"template {name!r} takes {want} parameter(s) in {key}, {got} given",
            )
    return expected
