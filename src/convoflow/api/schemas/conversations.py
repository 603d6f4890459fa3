"""Live conversations, the message log and template statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from convoflow.services.conversations.admin import ConversationView, ReleaseResult, ResetResult
from convoflow.services.templates.statistics import TemplateStats
from convoflow.store.models import WhatsAppMessage


class HandoffOut(BaseModel):
    """A person has the conversation: since when, why, and who answered last."""

    reason: str
    started_at: datetime
    step: str | None = Field(description="The step that handed the conversation over.")
    agent_id: str | None = Field(description="The user who answered last (None: nobody yet).")


class ConversationOut(BaseModel):
    """Where a customer is now (`conversation_state`)."""

    phone_number: str = Field(description="The customer (wa_id, or business-scoped id).")
    conversation_flow: str = Field(description="The template's name.")
    current_step: str
    context: dict[str, Any] = Field(
        description="Variables, retries, what it waits for, the waiting step's timer."
    )
    template_id: str = Field(description="The template version the conversation is pinned to.")
    instance_id: str | None
    created_at: datetime
    last_interaction: datetime
    expires_at: datetime
    timer_due_at: datetime | None = Field(
        description="When the waiting step times out and goes to its on_timeout (None: never)."
    )
    status: Literal["active", "waiting", "handoff"] = Field(
        description="`handoff`: a person has it, the bot is silent; `waiting`: for an "
        "outside call; else `active`."
    )
    handoff: HandoffOut | None = Field(description="The open handoff (None unless `handoff`).")

    @classmethod
    def of(cls, view: ConversationView) -> ConversationOut:
        """Build from a live conversation and its handoff."""
        live, handoff = view.live, view.handoff
        return cls(
            phone_number=live.customer_key,
            conversation_flow=live.state.template_name,
            current_step=live.state.current_step,
            context=live.state.to_json(),
            template_id=live.template_id,
            instance_id=live.instance_id,
            created_at=live.created_at,
            last_interaction=live.last_interaction,
            expires_at=live.expires_at,
            timer_due_at=live.state.timer.due_at if live.state.timer is not None else None,
            status=view.status,
            handoff=None
            if handoff is None
            else HandoffOut(
                reason=handoff.reason,
                started_at=handoff.started_at,
                step=handoff.step_id,
                agent_id=handoff.agent_id,
            ),
        )


class ConversationReset(BaseModel):
    """A customer whose conversation was reset."""

    phone_number: str
    cancelled_instance_id: str | None

    @classmethod
    def of(cls, result: ResetResult) -> ConversationReset:
        """Build from a reset."""
        return cls(
            phone_number=result.customer_key, cancelled_instance_id=result.cancelled_instance_id
        )


class ConversationRelease(BaseModel):
    """A handed-off conversation given back to the bot."""

    phone_number: str
    status: str = Field(description="The flow status after the release (e.g. waiting_input).")
    current_step: str | None = Field(description="Where the customer is now (None: ended).")

    @classmethod
    def of(cls, result: ReleaseResult) -> ConversationRelease:
        """Build from a release."""
        return cls(
            phone_number=result.customer_key, status=result.status, current_step=result.current_step
        )


class MessageOut(BaseModel):
    """One WhatsApp message, inbound or outbound."""

    id: int
    direction: str = Field(description="`in` or `out`.")
    # Read from the stored message's customer_key; served as the documented `customer`.
    customer: str = Field(validation_alias="customer_key")
    phone_number_id: str
    wamid: str | None
    type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    error_code: int | None
    error_text: str | None
    template_id: str | None
    step_id: str | None
    instance_id: str | None
    agent_id: str | None = Field(
        default=None, description="The person who wrote it from the inbox (None: the bot)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: WhatsAppMessage) -> MessageOut:
        """Build from a stored message."""
        return cls.model_validate(row, from_attributes=True)


class FunnelStepOut(BaseModel):
    """How runs went through one step."""

    step: str
    reached: int = Field(description="Runs that reached the step.")
    completed: int = Field(description="Of those, runs that went on to complete.")
    dropped_off: int = Field(description="Runs that stopped here (failed or cancelled).")
    in_progress: int = Field(description="Runs that are at this step now.")


class TemplateStatsOut(BaseModel):
    """Usage, completion, response time and the step funnel of a template."""

    template_id: str
    family_id: str
    template_name: str
    version: int
    usage_count: int
    runs: int
    runs_by_status: dict[str, int]
    runs_by_version: dict[str, int]
    completion_rate: float = Field(description="Completed runs over all runs.")
    success_rate: float
    avg_response_time_ms: float = Field(description="Average time to the first reply.")
    rating: float
    rating_count: int
    last_used_at: datetime | None
    funnel: list[FunnelStepOut]
    total_tokens_used: int = Field(description="Model tokens of every run (llm_calls).")
    total_cost: float = Field(description="What the model calls cost, unrounded.")
    avg_tokens_per_use: float = Field(description="Tokens over the runs that called the model.")
    llm_calls: int = Field(description="How many model calls the runs made.")
    llm_daily: list[dict[str, Any]] = Field(
        description="Per UTC day of the last 30: `day`, `calls`, `tokens`, `cost`."
    )
    unpriced_models: list[str] = Field(
        description="Models called without a price in your price table (they cost 0)."
    )

    @classmethod
    def of(cls, stats: TemplateStats) -> TemplateStatsOut:
        """Build from computed statistics."""
        row = stats.template
        return cls(
            template_id=row.id,
            family_id=row.family_id,
            template_name=row.template_name,
            version=row.version,
            usage_count=row.usage_count,
            runs=stats.runs,
            runs_by_status=dict(stats.runs_by_status),
            runs_by_version={str(v): n for v, n in sorted(stats.runs_by_version.items())},
            completion_rate=stats.completion_rate,
            success_rate=row.success_rate,
            avg_response_time_ms=row.avg_response_time_ms,
            rating=row.rating,
            rating_count=row.rating_count,
            last_used_at=row.last_used_at or stats.last_run_at,
            funnel=[
                FunnelStepOut(
                    step=item.step,
                    reached=item.reached,
                    completed=item.completed,
                    dropped_off=item.dropped_off,
                    in_progress=item.in_progress,
                )
                for item in stats.funnel
            ],
            total_tokens_used=stats.llm.total_tokens_used,
            total_cost=stats.llm.total_cost,
            avg_tokens_per_use=stats.llm.avg_tokens_per_use,
            llm_calls=stats.llm.llm_calls,
            llm_daily=stats.llm.daily,
            unpriced_models=stats.llm.unpriced_models,
        )
