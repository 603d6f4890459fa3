"""The message path (DESIGN §4 steps 3–4): decide what an event means, advance, persist.

Everything here runs inside the caller's transaction while the caller holds the
conversation lock (see :mod:`convoflow.services.inbox.intake`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine import Template, accepts, advance
from convoflow.engine.events import ChoiceReceived, Event, Start, TextReceived, Timeout
from convoflow.engine.outcome import (
    ConversationState,
    EndAction,
    FlowStatus,
    OutboundMessage,
    Outcome,
)
from convoflow.services.conversations.handoffs import (
    AGENT,
    HANDOFF_TTL_SECONDS,
    close_handoff,
    open_handoff,
)
from convoflow.services.conversations.outcomes import (
    FINISHED,
    announce_in_turn_order,
    apply_to_instance,
    new_instance,
    queue_messages,
    record_effects,
)
from convoflow.services.live import LiveEvent
from convoflow.services.templates.catalog import TemplateCatalog, TemplateRef
from convoflow.services.templates.tallies import (
    count_run_finished,
    count_run_started,
    count_steps,
)
from convoflow.sessions.base import LiveConversation
from convoflow.sessions.states import ConversationStates
from convoflow.store.local_channels import LOCAL_CHANNELS, is_simulated
from convoflow.store.models import Contact, WorkflowInstance

#: How many `connect` hops one message may cause (stops a ring of templates).
MAX_CONNECT_HOPS = 8


@dataclass(frozen=True, slots=True)
class Customer:
    """Who wrote, as the message path needs it."""

    owner_id: str
    customer_key: str  # wa_id, or the business-scoped user id when no phone number is shared
    channel_number: str  # the business phone_number_id replies go out from
    name: str = ""
    phone: str = ""
    contact_id: str | None = None
    user_type_id: str | None = None

    @classmethod
    def of_contact(
        cls, contact: Contact | None, *, owner_id: str, customer_key: str, channel_number: str
    ) -> Customer:
        """The customer as the message path sees them, from their contact row (if any)."""
        if contact is None:
            return cls(owner_id=owner_id, customer_key=customer_key, channel_number=channel_number)
        return cls(
            owner_id=owner_id,
            customer_key=customer_key,
            channel_number=channel_number,
            name=contact.name,
            phone=contact.wa_id or "",
            contact_id=contact.id,
            user_type_id=contact.user_type_id,
        )

    @property
    def simulated(self) -> bool:
        """Whether this is a test customer of the builder's simulator: their runs are not
        counted in the statistics and do not run the template's end action."""
        return is_simulated(self.customer_key)

    def render_context(self) -> dict[str, str]:
        """What ``{{contact.*}}`` renders to."""
        return {"name": self.name, "phone": self.phone or self.customer_key}


@dataclass(slots=True)
class TurnResult:
    """What one inbound event produced."""

    messages: list[OutboundMessage] = field(default_factory=list)
    status: FlowStatus | None = None
    template_name: str | None = None
    instance_id: str | None = None
    queued: int = 0  # outbox rows the turn queued


class ConversationService:
    """Runs one event of one customer through the right template and persists the result."""

    def __init__(
        self,
        *,
        catalog: TemplateCatalog,
        store: ConversationStates,
        default_ttl_seconds: int,
        llm_debounce_seconds: float = 0.0,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.default_ttl = default_ttl_seconds
        self.llm_debounce = timedelta(seconds=llm_debounce_seconds)

    async def handle(
        self,
        db_session: AsyncSession,
        customer: Customer,
        event: Event,
        *,
        now: datetime,
        received_at: datetime | None = None,
    ) -> tuple[TurnResult, LiveConversation | None]:
        """Handle ``event``; returns the turn and the conversation to save (None: ended)."""
        live = await self.store.load(
            db_session, owner_id=customer.owner_id, customer_key=customer.customer_key, now=now
        )
        if live is None:
            ref = await self._trigger_or_fallback(db_session, customer, event)
            if ref is None:
                return TurnResult(), None
            return await self._start(
                db_session,
                customer,
                ref,
                {},
                now=now,
                received_at=received_at,
                text=_words(event),
                from_customer=True,
            )
        instance = await self._instance_of(db_session, live)
        if instance is not None and instance.waiting_for == AGENT:
            return self._hold_for_agent(live, instance, now=now)
        row, template = await self.catalog.compiled(db_session, live.template_id)
        switch = await self._switch_target(db_session, customer, template, live, event)
        if switch is not None:
            await self._finish_instance(db_session, live.instance_id, "cancelled", now=now)
            return await self._start(
                db_session,
                customer,
                switch,
                {},
                now=now,
                received_at=received_at,
                text=_words(event),
                from_customer=True,
            )
        outcome = advance(template, live.state, event, now, contact=customer.render_context())
        return await self._persist(
            db_session,
            customer,
            live,
            template_id=row.id,
            outcome=outcome,
            now=now,
            instance=instance,
            previous_step=live.state.current_step,
            from_customer=True,
        )

    def _hold_for_agent(
        self, live: LiveConversation, instance: WorkflowInstance, *, now: datetime
    ) -> tuple[TurnResult, LiveConversation | None]:
        """A person has the conversation: the message is only stored (the inbox shows it),
        the engine does not see it, and the conversation stays alive."""
        instance.last_interaction = now
        live.last_interaction = now
        live.expires_at = now + timedelta(seconds=max(self._ttl_of(live), HANDOFF_TTL_SECONDS))
        result = TurnResult(
            status=FlowStatus.HANDOFF,
            template_name=live.state.template_name,
            instance_id=instance.id,
        )
        return result, live

    @staticmethod
    async def _instance_of(
        db_session: AsyncSession, live: LiveConversation
    ) -> WorkflowInstance | None:
        if live.instance_id is None:
            return None
        return await db_session.get(WorkflowInstance, live.instance_id)

    async def start(
        self,
        db_session: AsyncSession,
        customer: Customer,
        ref: TemplateRef,
        variables: dict[str, object],
        *,
        now: datetime,
    ) -> tuple[TurnResult, LiveConversation | None]:
        """Start ``ref`` for the customer directly (chat `--template`, the admin API)."""
        live = await self.store.load(
            db_session, owner_id=customer.owner_id, customer_key=customer.customer_key, now=now
        )
        if live is not None:
            await self._finish_instance(db_session, live.instance_id, "cancelled", now=now)
            await close_handoff(
                db_session,
                owner_id=customer.owner_id,
                customer_key=customer.customer_key,
                now=now,
                released_by="ended",
            )
        return await self._start(db_session, customer, ref, variables, now=now, received_at=now)

    async def resume(
        self, db_session: AsyncSession, customer: Customer, event: Event, *, now: datetime
    ) -> tuple[TurnResult, LiveConversation | None]:
        """Feed a non-customer event (effect result, release) to the live conversation."""
        live = await self.store.load(
            db_session, owner_id=customer.owner_id, customer_key=customer.customer_key, now=now
        )
        if live is None:
            return TurnResult(), None
        row, template = await self.catalog.compiled(db_session, live.template_id)
        outcome = advance(template, live.state, event, now, contact=customer.render_context())
        return await self._persist(
            db_session,
            customer,
            live,
            template_id=row.id,
            outcome=outcome,
            now=now,
            previous_step=live.state.current_step,
        )

    async def fire_timer(
        self,
        db_session: AsyncSession,
        customer: Customer,
        *,
        now: datetime,
        timer_id: str | None = None,
    ) -> tuple[TurnResult, LiveConversation | None] | None:
        """Run out the live conversation's step timer if it is due at ``now``.

        ``timer_id``, when given, must still be the conversation's timer. Returns None when
        there is nothing to fire (no live conversation, no timer, not due, another timer);
        a live conversation's due timer moves it to the step's ``on_timeout``, persisted as
        a customer turn is, clearing or re-arming the timer in the same transaction. The
        caller holds the conversation lock. A timer does not extend the conversation's
        lifetime: only the customer's messages do, so reminders stop when it expires.
        """
        live = await self.store.load(
            db_session, owner_id=customer.owner_id, customer_key=customer.customer_key, now=now
        )
        if live is None:
            await self.store.forget_timer(
                db_session, owner_id=customer.owner_id, customer_key=customer.customer_key
            )
            return None
        timer = live.state.timer
        if timer is None or not timer.is_due(now) or timer_id not in (None, timer.id):
            return None
        row, template = await self.catalog.compiled(db_session, live.template_id)
        event = Timeout(timer.id)
        outcome = advance(template, live.state, event, now, contact=customer.render_context())
        return await self._persist(
            db_session,
            customer,
            live,
            template_id=row.id,
            outcome=outcome,
            now=now,
            touch=False,
            previous_step=live.state.current_step,
            released_by="timeout",
        )

    async def _starting_template(
        self, db_session: AsyncSession, customer: Customer, event: Event
    ) -> TemplateRef | None:
        """A trigger keyword the customer may use, else the owner's fallback template."""
        for text in _texts_of(event):
            for ref in await self.catalog.by_trigger(
                db_session, owner_id=customer.owner_id, text=text
            ):
                if ref.permits(customer.user_type_id):
                    return ref
        return None

    async def _trigger_or_fallback(
        self, db_session: AsyncSession, customer: Customer, event: Event
    ) -> TemplateRef | None:
        ref = await self._starting_template(db_session, customer, event)
        if ref is not None:
            return ref
        fallback = await self.catalog.fallback(db_session, owner_id=customer.owner_id)
        return fallback if fallback and fallback.permits(customer.user_type_id) else None

    async def _switch_target(
        self,
        db_session: AsyncSession,
        customer: Customer,
        template: Template,
        live: LiveConversation,
        event: Event,
    ) -> TemplateRef | None:
        """Another template's trigger typed where the waiting step expects something else."""
        if not isinstance(event, TextReceived) or live.state.waiting_effect:
            return None
        step = template.step(live.state.current_step)
        if step is not None and step.type == "handoff":
            return None  # a person is talking to the customer: keywords are not for the bot
        if template.is_cancel(event.text) or accepts(template, live.state, event):
            return None
        return await self._starting_template(db_session, customer, event)

    async def _start(
        self,
        db_session: AsyncSession,
        customer: Customer,
        ref: TemplateRef,
        variables: dict[str, object],
        *,
        now: datetime,
        received_at: datetime | None,
        hops: int = 0,
        text: str = "",
        from_customer: bool = False,
    ) -> tuple[TurnResult, LiveConversation | None]:
        """Start ``ref``; ``text`` is the customer's message that started it (an AI step at
        the start answers it); ``from_customer`` whether a customer's message did."""
        row, template = await self.catalog.compiled(db_session, ref.template_id)
        instance = self._new_instance(customer, row.id, now)
        db_session.add(instance)
        # Rows that name the instance (effects, handoffs) must follow its insert, and the
        # ORM orders only what it knows as relationships: it is inserted now.
        await db_session.flush()
        outcome = advance(
            template,
            None,
            Start(variables=dict(variables), text=text),
            now,
            contact=customer.render_context(),
        )
        live = LiveConversation(
            owner_id=customer.owner_id,
            customer_key=customer.customer_key,
            template_id=row.id,
            instance_id=instance.id,
            state=outcome.state or _placeholder_state(template),
            expires_at=now,
            created_at=now,
            last_interaction=now,
        )
        response_ms = max((now - (received_at or now)).total_seconds() * 1000.0, 0.0)
        if not customer.simulated:
            await count_run_started(
                db_session,
                template_id=row.id,
                owner_id=customer.owner_id,
                response_time_ms=response_ms,
                now=now,
            )
        return await self._persist(
            db_session,
            customer,
            live,
            template_id=row.id,
            outcome=outcome,
            now=now,
            instance=instance,
            hops=hops,
            from_customer=from_customer,
        )

    async def _persist(
        self,
        db_session: AsyncSession,
        customer: Customer,
        live: LiveConversation,
        *,
        template_id: str,
        outcome: Outcome,
        now: datetime,
        instance: WorkflowInstance | None = None,
        hops: int = 0,
        touch: bool = True,
        previous_step: str | None = None,
        released_by: str = "flow",
        from_customer: bool = False,
    ) -> tuple[TurnResult, LiveConversation | None]:
        """Write what ``outcome`` decided; ``touch`` False keeps the last interaction and expiry
        (a timer is not the customer). ``previous_step`` is where the conversation stood
        before (None: a new run); ``released_by`` says what ended a handoff this turn ends;
        ``from_customer`` that a customer's message caused the turn (its model turns wait
        for the debounce)."""
        if instance is None and live.instance_id is not None:
            instance = await db_session.get(WorkflowInstance, live.instance_id)
        result = TurnResult(status=outcome.status, template_name=live.state.template_name)
        counted = not is_simulated(customer.customer_key)
        if counted:
            count_steps(
                db_session,
                template_id=template_id,
                owner_id=customer.owner_id,
                previous=previous_step,
                visited=outcome.visited_steps,
                now=now,
            )
        handed_off = await self._hand_over(
            db_session, customer, instance, outcome, template_id, now, released_by
        )
        if instance is not None:
            apply_to_instance(instance, outcome, now)
            result.instance_id = instance.id
            effects = outcome.effects
            if customer.simulated:
                # A test run must not post a test customer's data to the owner's systems.
                effects = [effect for effect in effects if not isinstance(effect, EndAction)]
            if effects:
                record_effects(
                    db_session,
                    owner_id=customer.owner_id,
                    instance_id=instance.id,
                    effects=effects,
                    now=now,
                    hold_model_turns=self._model_hold(customer) if from_customer else timedelta(0),
                )
            if instance.status in FINISHED and counted:
                await count_run_finished(
                    db_session,
                    template_id=template_id,
                    succeeded=instance.status == "completed",
                )
        queued = await queue_messages(
            db_session,
            owner_id=customer.owner_id,
            phone_number_id=customer.channel_number,
            customer_key=customer.customer_key,
            messages=outcome.messages,
            template_id=template_id,
            instance_id=instance.id if instance else None,
            now=now,
            announce_messages=True,
        )
        result.messages.extend(outcome.messages)
        if outcome.connect_to and hops < MAX_CONNECT_HOPS:
            target = await self.catalog.by_name(
                db_session, owner_id=customer.owner_id, name=outcome.connect_to
            )
            if target is not None and target.permits(customer.user_type_id):
                variables = dict(outcome.state.variables) if outcome.state else {}
                if instance is not None and instance.status not in FINISHED:
                    instance.status, instance.completed_at = "completed", now
                    if counted:
                        await count_run_finished(
                            db_session, template_id=template_id, succeeded=True
                        )
                sub_result, sub_live = await self._start(
                    db_session,
                    customer,
                    target,
                    variables,
                    now=now,
                    received_at=None,
                    hops=hops + 1,
                    from_customer=from_customer,
                )
                result.messages.extend(sub_result.messages)
                result.status, result.template_name = sub_result.status, sub_result.template_name
                result.instance_id = sub_result.instance_id
                result.queued = queued + sub_result.queued
                return result, sub_live
        # Nothing flushed here: the instance and the other ORM changes of the turn go with
        # the next query that needs them or the commit (a batch of turns, one flush).
        result.queued = queued
        self._announce_turn(db_session, customer, live, outcome)
        if outcome.state is None or result.status in (
            FlowStatus.COMPLETED,
            FlowStatus.FAILED,
            FlowStatus.CANCELLED,
        ):
            await self.store.delete(
                db_session, owner_id=customer.owner_id, customer_key=customer.customer_key
            )
            return result, None
        live.state = outcome.state
        if touch:
            live.last_interaction = now
            live.expires_at = now + timedelta(seconds=self._ttl_of(live))
        if handed_off:
            lifetime = max(self._ttl_of(live), HANDOFF_TTL_SECONDS)
            live.expires_at = max(live.expires_at, now + timedelta(seconds=lifetime))
        return result, live

    async def _hand_over(
        self,
        db_session: AsyncSession,
        customer: Customer,
        instance: WorkflowInstance | None,
        outcome: Outcome,
        template_id: str,
        now: datetime,
        released_by: str,
    ) -> bool:
        """Open a handoff when the outcome hands the conversation to a person, close it when
        a handed-off conversation moves on; True when it is handed off after this turn."""
        was_handed_off = instance is not None and instance.waiting_for == AGENT
        handed_off = outcome.status is FlowStatus.HANDOFF and outcome.state is not None
        # A handoff step entered anew (its reason set) opens one, also right after a release.
        if handed_off and (not was_handed_off or outcome.handoff_reason is not None):
            await open_handoff(
                db_session,
                owner_id=customer.owner_id,
                customer_key=customer.customer_key,
                instance_id=instance.id if instance is not None else None,
                template_id=template_id,
                step_id=outcome.state.current_step if outcome.state else None,
                reason=outcome.handoff_reason or "handed to a person",
                now=now,
            )
        elif was_handed_off and not handed_off:
            await close_handoff(
                db_session,
                owner_id=customer.owner_id,
                customer_key=customer.customer_key,
                now=now,
                released_by=released_by,
            )
        return handed_off

    @staticmethod
    def _announce_turn(
        db_session: AsyncSession,
        customer: Customer,
        live: LiveConversation,
        outcome: Outcome,
    ) -> None:
        """Tell the inbox where the customer is (the queued messages tell it themselves)."""
        owner_id, key = customer.owner_id, customer.customer_key
        step = outcome.state.current_step if outcome.state is not None else None
        announce_in_turn_order(
            db_session,
            LiveEvent(
                "conversation",
                owner_id,
                {
                    "customer": key,
                    "event": "step",
                    "template": live.state.template_name,
                    "step": step,
                    "status": str(outcome.status),
                },
            ),
        )

    def _model_hold(self, customer: Customer) -> timedelta:
        """How long a model turn waits for more of the customer's messages: the debounce,
        except on the local channels, whose customer waits for each answer."""
        if customer.channel_number in LOCAL_CHANNELS:
            return timedelta(0)
        return self.llm_debounce

    def _ttl_of(self, live: LiveConversation) -> int:
        ref_ttl = None
        compiled = self.catalog.cached(live.template_id)
        if compiled is not None:
            ref_ttl = compiled[0].session_ttl_seconds
        return ref_ttl or self.default_ttl

    async def _finish_instance(
        self, db_session: AsyncSession, instance_id: str | None, status: str, *, now: datetime
    ) -> None:
        if instance_id is None:
            return
        instance = await db_session.get(WorkflowInstance, instance_id)
        if instance is not None and instance.status not in FINISHED:
            instance.status, instance.completed_at = status, now
            if not is_simulated(instance.user_id):
                await count_run_finished(
                    db_session, template_id=instance.template_id, succeeded=False
                )

    @staticmethod
    def _new_instance(customer: Customer, template_id: str, now: datetime) -> WorkflowInstance:
        return new_instance(
            owner_id=customer.owner_id,
            template_id=template_id,
            customer_key=customer.customer_key,
            conversation_id=customer.customer_key,
            contact_id=customer.contact_id,
            now=now,
        )


def _texts_of(event: Event) -> list[str]:
    """The texts of an event that may name a trigger keyword."""
    if isinstance(event, TextReceived):
        return [event.text]
    if isinstance(event, ChoiceReceived):
        return [event.choice_id, event.title]
    return []


def _words(event: Event) -> str:
    """The customer's words in an event ("" for anything else)."""
    if isinstance(event, TextReceived):
        return event.text
    if isinstance(event, ChoiceReceived):
        return event.title or event.choice_id
    return ""


def _placeholder_state(template: Template) -> ConversationState:
    """The state of a run that ended in its first advance (never saved)."""
    return ConversationState(template_name=template.name, current_step=template.start)
