"""The 24-hour customer service window: what happens to a free-form message sent too late.

WhatsApp accepts free-form messages only within 24 hours of the customer's last message;
after that only approved templates go out (error 131047 otherwise). A template can name the
approved WhatsApp template to send instead in its ``default_params`` (or as
``reengagement_template`` at the top of its ``menu_structure``)::

    default_params:
      reengagement_template: order_update           # language en_US
      # or, with a language and parameters:
      reengagement_template:
        name: order_update
        language: de
        components: [{type: body, parameters: [{type: text, text: "…"}]}]

The late message itself is marked ``failed`` (code 131047) and the re-engagement template is
queued right behind it, once: while the window stays closed, later free-form messages to the
same customer fail without another template.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import WhatsAppMessage, WorkflowTemplate

__all__ = [
    "OUTSIDE_WINDOW_CODE",
    "OUTSIDE_WINDOW_TEXT",
    "REENGAGEMENT_PARAM",
    "SERVICE_WINDOW",
    "fall_back_outside_window",
    "reengagement_body",
    "window_is_closed",
]

SERVICE_WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW_CODE = 131047
OUTSIDE_WINDOW_TEXT = "outside the 24-hour customer service window"
REENGAGEMENT_PARAM = "reengagement_template"
DEFAULT_TEMPLATE_LANGUAGE = "en_US"


def window_is_closed(message_type: str, last_inbound_at: datetime | None, now: datetime) -> bool:
    """True when a message of this type may not go out now (templates always may)."""
    if message_type == "template":
        return False
    return last_inbound_at is None or now - last_inbound_at >= SERVICE_WINDOW


def reengagement_body(default_params: dict[str, Any] | None) -> dict[str, Any] | None:
    """The template message object named by ``default_params``, or None when none is set."""
    named = (default_params or {}).get(REENGAGEMENT_PARAM)
    if isinstance(named, str) and named.strip():
        named = {"name": named.strip()}
    if not isinstance(named, dict) or not isinstance(named.get("name"), str) or not named["name"]:
        return None
    language = named.get("language") or DEFAULT_TEMPLATE_LANGUAGE
    template: dict[str, Any] = {
        "name": named["name"],
        "language": language if isinstance(language, dict) else {"code": str(language)},
    }
    if isinstance(named.get("components"), list):
        template["components"] = named["components"]
    return {"type": "template", "template": template}


async def fall_back_outside_window(
    db_session: AsyncSession,
    *,
    message_id: int,
    last_inbound_at: datetime | None,
    now: datetime,
    detail: str = "",
) -> str:
    """Fail the late message and queue the re-engagement template once; return the reason.

    Runs in the caller's transaction; the caller marks the message failed with the reason.
    """
    message = await db_session.get(WhatsAppMessage, message_id)
    if message is None:
        return OUTSIDE_WINDOW_TEXT
    reason = OUTSIDE_WINDOW_TEXT + (f" ({detail})" if detail else "")
    params: dict[str, Any] = {}
    if message.template_id is not None:
        row = (
            await db_session.execute(
                select(WorkflowTemplate.default_params, WorkflowTemplate.menu_structure).where(
                    WorkflowTemplate.id == message.template_id
                )
            )
        ).first()
        if row is not None:
            # The step graph may name it too (``menu_structure.reengagement_template``);
            # ``default_params`` wins when both do.
            graph_setting = (row.menu_structure or {}).get(REENGAGEMENT_PARAM)
            params = {REENGAGEMENT_PARAM: graph_setting, **(row.default_params or {})}
            if params.get(REENGAGEMENT_PARAM) is None:
                params[REENGAGEMENT_PARAM] = graph_setting
    body = reengagement_body(params)
    if body is None:
        return reason + "; the template names no reengagement_template"
    if await _already_reengaged(db_session, message, since=last_inbound_at):
        return reason + "; the re-engagement template was already sent"
    db_session.add(
        WhatsAppMessage(
            owner_id=message.owner_id,
            phone_number_id=message.phone_number_id,
            customer_key=message.customer_key,
            direction="out",
            type="template",
            payload=body,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            template_id=message.template_id,
            step_id=message.step_id,
            instance_id=message.instance_id,
            created_at=now,
        )
    )
    return reason + f"; re-engagement template {body['template']['name']!r} queued instead"


async def _already_reengaged(
    db_session: AsyncSession, message: WhatsAppMessage, *, since: datetime | None
) -> bool:
    """A template went (or is going) to the customer since they last wrote."""
    query = select(WhatsAppMessage.id).where(
        WhatsAppMessage.owner_id == message.owner_id,
        WhatsAppMessage.customer_key == message.customer_key,
        WhatsAppMessage.direction == "out",
        WhatsAppMessage.type == "template",
        WhatsAppMessage.status != "failed",
        WhatsAppMessage.id != message.id,
    )
    if since is not None:
        query = query.where(WhatsAppMessage.created_at >= since)
    return bool(await db_session.scalar(select(exists(query))))
