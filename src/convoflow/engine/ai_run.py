"""Running the AI steps (``ai_extract``, ``ai_reply``, ``ai_classify``) and AI templates.

The engine never calls a model. Reaching an AI step (or a customer message at one) emits an
:class:`~.outcome.LlmTurn` effect and the conversation waits for it (``waiting_effect``);
the turn's result comes back as an :class:`~.events.EffectResult` and :func:`resume` turns
it into messages and the next step:

* a text (and ``reply`` choices as buttons or a list) → wait for the customer;
* ``finish`` with every required field valid → the summary with Confirm/Change (a step
  with ``confirm``, such as an AI template), else ``next``; ``ai_extract`` goes on as soon
  as its required fields are filled;
* ``handoff`` → ``on_handoff``, else the conversation waits for a person at the step
  (``Outcome.handoff_reason``), silent until it is released;
* ``classify`` → the category's ``next`` (``other`` → the step's ``other``);
* the model failed → the fallback text, the conversation keeps waiting for the customer
  (their message stays in the transcript); no provider, a token or cost limit, or
  ``max_turns`` used up → ``on_failure``, else the fallback text and a handoff.

Customer messages that arrive while a turn waits or runs are held in the memory
(``pending``). A turn that has not called the model yet reads them (the service holds a
turn caused by the customer for the debounce window first) and its result says how many
(``heard``); the rest go to the model together in the next turn, right after the current
one. So a customer's messages are answered in order and none is lost. Cancel words still
cancel.
"""

from __future__ import annotations

from typing import Any

from . import ai_memory
from .ai_memory import CONFIRM, HANDOFF, TALK
from .ai_steps import AiClassifyStep, AiExtractStep, AiReplyStep
from .ai_turns import (
    CHANGE_ID,
    CONFIRM_ID,
    AiStepModel,
    accept_fields,
    llm_turn,
    missing_fields,
    reply_messages,
    summary_message,
)
from .events import ChoiceReceived, EffectResult, Event, Release, TextReceived
from .outcome import ConversationState, FlowStatus, Outcome
from .runner import Run, register_step_handler

AI_STEPS = (AiExtractStep, AiReplyStep, AiClassifyStep)


def enter(run: Run, step: AiStepModel) -> Outcome:
    """Reach an AI step: ask the model about what the customer just said.

    When this run already sent something (a message step before the AI step), the
    customer's earlier words are answered: the step waits for their next message. So does
    an ``ai_classify`` reached without the customer's words; any other AI step reached
    without them (a template started by the API) lets the model open the conversation.
    """
    memory = ai_memory.visit(run.ai, step.id)
    run.ai = memory
    for message in run.messages:
        ai_memory.said(memory, _shown(message.body))
    if run.input_text and not run.messages:
        ai_memory.heard(memory, run.input_text)
    elif run.messages or isinstance(step, AiClassifyStep):
        return run.waiting(step.id)
    return ask_model(run, step)


def _shown(body: dict[str, Any]) -> str:
    """What a message says, for the transcript."""
    if body.get("type") == "text":
        return str(body["text"].get("body") or "")
    if body.get("type") == "interactive":
        return str(body["interactive"].get("body", {}).get("text") or "")
    return ""


def ask_model(run: Run, step: AiStepModel) -> Outcome:
    """Emit the next model turn and wait for it, unless ``max_turns`` is used up."""
    memory = run.ai if run.ai is not None else ai_memory.visit(None, step.id)
    run.ai = memory
    if memory["turns"] >= step.max_turns:
        return give_up(run, step, f"{step.max_turns} model turns used up (max_turns)")
    memory["turns"] += 1
    effect_id = f"{step.id}#ai{len(run.history)}.{memory['turns']}"
    run.effects.append(llm_turn(run.template, step, run.variables, memory, effect_id))
    return run.outcome(FlowStatus.WAITING_EFFECT, step.id, waiting_effect=effect_id)


def give_up(run: Run, step: AiStepModel, reason: str) -> Outcome:
    """The model cannot go on: ``on_failure``, else the fallback text and a handoff."""
    if step.on_failure is not None:
        return run.run_from(step.on_failure)
    run.say(_fallback_text(run), step.id)
    return hand_off(run, step, reason)


def hand_off(run: Run, step: AiStepModel, reason: str) -> Outcome:
    """Wait at ``step`` for a person; the bot stays silent until the release."""
    memory = run.ai if run.ai is not None else ai_memory.visit(None, step.id)
    memory.update(phase=HANDOFF, handoff_reason=reason)
    run.ai = memory
    return run.outcome(FlowStatus.HANDOFF, step.id, handoff_reason=reason)


def resume(run: Run, state: ConversationState, step: AiStepModel, event: Event) -> Outcome:
    """An event at an AI step: a turn's result, the customer, or a person's release."""
    memory = ai_memory.copied(state.ai)
    if memory["step"] != step.id:
        memory = ai_memory.visit(state.ai, step.id)
    run.ai = memory
    waiting = state.waiting_effect
    if isinstance(event, EffectResult):
        if waiting is None or event.effect_id != waiting:
            return _stay(run, state, "unexpected effect result")
        return _turn_finished(run, step, event)
    if isinstance(event, Release):
        if memory["phase"] != HANDOFF:
            return _stay(run, state)
        memory["phase"] = TALK
        memory.pop("handoff_reason", None)
        return run.waiting(step.id)
    words = ai_memory.words_of(event)
    if words is None:
        return _stay(run, state)
    if isinstance(event, TextReceived) and run.compiled.is_cancel(event.text):
        return run.cancel(step.id)
    if waiting is not None:  # a turn is running: the message waits for the next one
        memory["pending"].append(words)
        return _stay(run, state)
    if memory["phase"] == HANDOFF:  # a person is answering: keep it for later, say nothing
        ai_memory.heard(memory, words)
        return _stay(run, state)
    if memory["phase"] == CONFIRM:
        if _confirmed(run, event):
            return run.run_from(step.next if not isinstance(step, AiClassifyStep) else None)
        memory["phase"] = TALK
        tapped_change = isinstance(event, ChoiceReceived) and event.choice_id == CHANGE_ID
        words = run.template.texts.change_request if tapped_change else words
    ai_memory.heard(memory, words)
    return ask_model(run, step)


def _stay(run: Run, state: ConversationState, error: str = "") -> Outcome:
    """Keep waiting as the state was (with the memory as it is now)."""
    status = FlowStatus.WAITING_INPUT
    if state.waiting_effect is not None:
        status = FlowStatus.WAITING_EFFECT
    elif (run.ai or {}).get("phase") == HANDOFF:
        status = FlowStatus.HANDOFF
    return run.outcome(
        status,
        state.current_step,
        retries=state.retries,
        waiting_effect=state.waiting_effect,
        timer=state.timer,
        error=error,
    )


def _confirmed(run: Run, event: Event) -> bool:
    if isinstance(event, ChoiceReceived):
        return event.choice_id == CONFIRM_ID
    if isinstance(event, TextReceived):
        typed = event.text.strip().casefold()
        return typed in {CONFIRM_ID, run.template.texts.confirm.casefold()}
    return False


def _fallback_text(run: Run) -> str:
    return run.template.llm.fallback_text or run.template.texts.ai_fallback


def _turn_finished(run: Run, step: AiStepModel, event: EffectResult) -> Outcome:
    """Apply a model turn's result (see the module docstring)."""
    memory: dict[str, Any] = run.ai or ai_memory.visit(None, step.id)
    data = event.data if isinstance(event.data, dict) else {}
    if not event.ok:
        data = {"outcome": "fallback", "error": event.error}
    heard = data.get("heard")
    if isinstance(heard, int) and heard > 0:
        # The turn read these held messages (the debounce): they come before its answer.
        ai_memory.take_pending(memory, heard)
    accept_fields(step, run.variables, data.get("fields"))
    kind = str(data.get("outcome") or "ok")
    error = str(data.get("error") or kind)
    if kind in {"limit", "unavailable"}:
        ai_memory.take_pending(memory)
        return give_up(run, step, error)
    if kind != "ok":
        ai_memory.take_pending(memory)
        run.say(_fallback_text(run), step.id)
        return run.waiting(step.id)
    text = str(data.get("text") or "")
    handoff = data.get("handoff")
    if handoff is not None:
        _send(run, step, text, None)
        reason = str(handoff) or "the model handed the conversation over"
        if isinstance(step, AiReplyStep) and step.on_handoff is not None:
            run.variables["handoff_reason"] = reason
            return run.run_from(step.on_handoff)
        return hand_off(run, step, reason)
    if isinstance(step, AiClassifyStep) and data.get("category") is not None:
        _send(run, step, text, None)
        return _classified(run, step, str(data["category"]))
    _send(run, step, text, data.get("choices"))
    complete = not missing_fields(step, run.variables)
    if isinstance(step, AiExtractStep) and complete:
        return run.run_from(step.next)
    if data.get("finished") and complete and not isinstance(step, AiClassifyStep):
        if isinstance(step, AiReplyStep) and step.confirm and not memory["pending"]:
            run.send(summary_message(run.template, step, run.variables), step.id)
            memory["phase"] = CONFIRM
            return run.waiting(step.id)
        if not (isinstance(step, AiReplyStep) and step.confirm):
            return run.run_from(step.next)
    if ai_memory.take_pending(memory):
        return ask_model(run, step)
    return run.waiting(step.id)


def _send(run: Run, step: AiStepModel, text: str, choices: Any) -> None:
    if not text.strip() and not choices:
        return
    for body in reply_messages(text, choices):
        run.send(body, step.id)
    shown = text
    if isinstance(choices, list) and choices:
        shown = f"{text}\n[choices: {' | '.join(str(choice) for choice in choices)}]"
    if run.ai is not None:
        ai_memory.said(run.ai, shown.strip())


def _classified(run: Run, step: AiClassifyStep, category: str) -> Outcome:
    chosen = next((c for c in step.categories if c.id == category), None)
    run.variables[step.variable] = chosen.id if chosen is not None else "other"
    return run.run_from(chosen.next if chosen is not None else step.other)


for _step_type in ("ai_extract", "ai_reply", "ai_classify"):
    register_step_handler(_step_type, enter)
