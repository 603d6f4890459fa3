"""What an inbound message means for campaigns: opting out, opting back in, replying.

* An opt-out word (``STOP``, ``UNSUBSCRIBE`` and the configured ones; the whole message,
  any case) opts the contact out of campaigns, records when and by which word, withdraws
  what is queued for them, and queues a confirmation. The message still reaches the
  conversation, so ``STOP`` also ends a running one, as it always did.
* An opt-in word (``START``) opts back in a contact who opted out, with a confirmation, and
  stops there; for everyone else it is an ordinary message (the main menu's trigger).
* The first message after a campaign reached someone (a quick-reply button or any text)
  marks their recipient ``replied``; when the campaign names a reply template, that
  template starts, with ``{{campaign.name}}`` and ``{{recipient.<column>}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.events import ChoiceReceived, Event, TextReceived
from convoflow.engine.messages import text_message
from convoflow.engine.outcome import OutboundMessage
from convoflow.services.campaigns.content import recipient_variables
from convoflow.services.campaigns.statuses import opt_out_contact
from convoflow.services.conversations.inbound_rules import InboundVerdict
from convoflow.services.conversations.outcomes import queue_messages
from convoflow.services.conversations.service import Customer
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.store.models import CampaignRecipient, Contact, MarketingCampaign

__all__ = ["CampaignInboundRules"]

DEFAULT_OPT_OUT_WORDS = ("stop", "unsubscribe")
DEFAULT_OPT_IN_WORDS = ("start",)
#: A reply counts for a campaign that reached the customer at most this long ago.
REPLY_WINDOW = timedelta(days=30)
REACHED = ("sent", "delivered", "read")
#: Where :meth:`CampaignInboundRules.prepare` keeps a batch's customers a campaign reached.
_REACHED_IN_BATCH = "convoflow.campaigns.reached_in_batch"


def _words(words: Iterable[str]) -> frozenset[str]:
    return frozenset(word.strip().casefold() for word in words if word.strip())


class CampaignInboundRules:
    """The campaign rules of the message path (an ``InboundRules``)."""

    def __init__(
        self,
        catalog: TemplateCatalog,
        *,
        opt_out_words: Iterable[str] = DEFAULT_OPT_OUT_WORDS,
        opt_in_words: Iterable[str] = DEFAULT_OPT_IN_WORDS,
        opt_out_confirmation: str = "",
        opt_in_confirmation: str = "",
    ) -> None:
        self.catalog = catalog
        self.opt_out_words = _words([*DEFAULT_OPT_OUT_WORDS, *opt_out_words])
        self.opt_in_words = _words(opt_in_words) or _words(DEFAULT_OPT_IN_WORDS)
        self.opt_out_confirmation = opt_out_confirmation
        self.opt_in_confirmation = opt_in_confirmation

    async def before_turn(
        self,
        db_session: AsyncSession,
        customer: Customer,
        event: Event,
        payload: dict[str, Any],
        *,
        now: datetime,
    ) -> InboundVerdict | None:
        """See the module docstring."""
        typed = event.text.strip() if isinstance(event, TextReceived) else None
        text = typed.casefold() if typed is not None else None
        if typed is not None and text in self.opt_out_words:
            await opt_out_contact(
                db_session,
                customer.owner_id,
                customer.customer_key,
                source=f"keyword:{typed.upper()[:50]}",
                now=now,
            )
            return InboundVerdict(
                queued=await self._confirm(db_session, customer, self.opt_out_confirmation, now)
            )
        if text is not None and text in self.opt_in_words:
            opted_in = await db_session.execute(
                update(Contact)
                .where(
                    Contact.owner_id == customer.owner_id,
                    Contact.customer_key == customer.customer_key,
                    Contact.opted_out.is_(True),
                )
                .values(opted_out=False, opted_out_at=None, opt_out_source=None)
                .execution_options(synchronize_session=False)
            )
            if getattr(opted_in, "rowcount", 0):
                queued = await self._confirm(db_session, customer, self.opt_in_confirmation, now)
                return InboundVerdict(handled=True, queued=queued)
            return None
        if not isinstance(event, TextReceived | ChoiceReceived):
            return None
        return await self._reply(db_session, customer, now)

    async def prepare(
        self, db_session: AsyncSession, customers: Sequence[tuple[str, str]], *, now: datetime
    ) -> None:
        """Find which of a batch's customers a campaign reached lately, in one query: the
        turns of the others then need no campaign lookup of their own."""
        owners = sorted({owner for owner, _ in customers})
        keys = sorted({key for _, key in customers})
        rows = await db_session.execute(
            select(CampaignRecipient.owner_id, CampaignRecipient.customer_key)
            .where(
                CampaignRecipient.owner_id.in_(owners),
                CampaignRecipient.customer_key.in_(keys),
                CampaignRecipient.status.in_(REACHED),
                CampaignRecipient.sent_at > now - REPLY_WINDOW,
            )
            .distinct()
            .execution_options(autoflush=False)
        )
        db_session.info[_REACHED_IN_BATCH] = {(owner, key) for owner, key in rows}

    async def _reply(
        self, db_session: AsyncSession, customer: Customer, now: datetime
    ) -> InboundVerdict | None:
        reached: set[tuple[str, str]] | None = db_session.info.get(_REACHED_IN_BATCH)
        if reached is not None and (customer.owner_id, customer.customer_key) not in reached:
            return None  # the batch's lookup found no campaign for them
        found = (
            await db_session.execute(
                select(CampaignRecipient, MarketingCampaign.name, MarketingCampaign.reply_template)
                .join(MarketingCampaign, MarketingCampaign.id == CampaignRecipient.campaign_id)
                .where(
                    CampaignRecipient.owner_id == customer.owner_id,
                    CampaignRecipient.customer_key == customer.customer_key,
                    CampaignRecipient.status.in_(REACHED),
                    CampaignRecipient.sent_at > now - REPLY_WINDOW,
                )
                .order_by(CampaignRecipient.sent_at.desc())
                .limit(1)
                # Nothing pending on the session changes this customer's recipients: no
                # flush of the batch's earlier turns for this read (it runs every message).
                .execution_options(autoflush=False)
            )
        ).first()
        if found is None:
            return None
        recipient, campaign_name, reply_template = found
        recipient.status, recipient.replied_at, recipient.updated_at = "replied", now, now
        if not reply_template:
            return None
        ref = await self.catalog.by_name(
            db_session, owner_id=customer.owner_id, name=reply_template
        )
        if ref is None or not ref.permits(customer.user_type_id):
            return None
        variables, _ = recipient_variables(
            campaign_name, recipient.columns, customer.name, customer.customer_key
        )
        return InboundVerdict(start=ref, variables=variables)

    @staticmethod
    async def _confirm(
        db_session: AsyncSession, customer: Customer, text: str, now: datetime
    ) -> int:
        body = text_message(text)
        if body is None or not customer.channel_number:
            return 0
        return await queue_messages(
            db_session,
            owner_id=customer.owner_id,
            phone_number_id=customer.channel_number,
            customer_key=customer.customer_key,
            messages=[OutboundMessage(body=body, step_id="campaign-opt-out")],
            template_id=None,
            instance_id=None,
            now=now,
        )
