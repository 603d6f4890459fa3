"""The heart of the engine: ``advance(template, state, event, now) -> Outcome``.

Pure and deterministic: the same inputs give the same outcome, the input state is never
modified, and no event on a valid template and state raises. The rules:

* ``Start`` (or any customer message when there is no state) begins at ``template.start``
  with the template's ``default_params`` overlaid by ``Start.variables``.
* At ``buttons``/``list``: a tapped id, else a typed option id, label or number chooses the
  option; its id is stored under the step's ``save_as`` (else the step id) and its label
  under ``<that name>_label``. At ``ask``/``collect`` the typed answer is parsed and stored
  under the field name.
* An invalid answer is re-asked with a short error (``input_rejected``); after
  ``max_retries`` re-asks the flow fails politely. ``cancel``/``stop`` ends it at any wait.
* ``http`` waits for the :class:`EffectResult` carrying its effect id; ``handoff`` waits for
  :class:`Release`. A state that points at a step which no longer waits (the template
  changed) restarts the flow, keeping the variables.
* Stopping at a step with a ``timeout`` arms the state's :class:`~.outcome.Timer`, due that
  long after ``now``; any answer (even one re-asked) re-arms it, moving on replaces or
  clears it. A :class:`Timeout` naming the current timer at or after its due time goes to
  ``on_timeout``; any other Timeout changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import ai_run
from .ai_memory import words_of
from .ai_template import LLM_PARAMS_KEY
from .answers import ParsedAnswer, parse_answer
from .events import (
    ChoiceReceived,
    EffectResult,
    Event,
    LocationReceived,
    MediaReceived,
    Release,
    Start,
    TextReceived,
    Timeout,
)
from .outcome import ConversationState, FlowStatus, Outcome
from .runner import Run
from .step_base import TimedWait
from .steps import AskStep, ButtonsStep, CollectStep, HandoffStep, HttpStep, ListStep, Step
from .template import Template

CUSTOMER_INPUT = (TextReceived, ChoiceReceived, MediaReceived, LocationReceived)
_NO_CONTACT: Mapping[str, str] = {}


def advance(
    template: Template,
    state: ConversationState | None,
    event: Event,
    now: datetime,
    *,
    contact: Mapping[str, str] | None = None,
) -> Outcome:
    """Move one conversation by one event and say what follows (see the module docstring).

    ``now`` arms step timers and tells whether a :class:`Timeout` is due; it is never read
    from a clock. ``contact`` supplies ``{{contact.name}}`` and ``{{contact.phone}}``.
    """
    contact_fields = contact if contact is not None else _NO_CONTACT
    try:
        return _advance(template, state, event, now, contact_fields)
    except Exception as exc:  # a bug must not take the conversation down with it
        run = Run(template, {}, contact_fields, [], now=now)
        return run.fail("", template.texts.effect_failed, f"internal error: {exc!r}")


def _advance(
    template: Template,
    state: ConversationState | None,
    event: Event,
    now: datetime,
    contact: Mapping[str, str],
) -> Outcome:
    words = words_of(event) or ""
    if isinstance(event, Start):
        variables = _starting_variables(template, event.variables)
        run = Run(template, variables, contact, [], now=now, input_text=event.text)
        return run.run_from(template.start)
    if state is None:
        if isinstance(event, CUSTOMER_INPUT):
            variables = _starting_variables(template, {})
            run = Run(template, variables, contact, [], now=now, input_text=words)
            return run.run_from(template.start)
        return Outcome(FlowStatus.FAILED, None, error="no conversation to resume")
    run = Run(
        template,
        dict(state.variables),
        contact,
        list(state.history),
        now=now,
        ai=state.ai,
        input_text=words,
    )
    step = run.compiled.step(state.current_step)
    if isinstance(event, Timeout):  # before the restart below: a timer never restarts a flow
        return _time_out(run, state, step, event, now)
    if isinstance(step, ai_run.AI_STEPS):
        return ai_run.resume(run, state, step, event)
    waits_for_effect = isinstance(step, HttpStep)
    if step is None or not step.waits or waits_for_effect != (state.waiting_effect is not None):
        outcome = run.run_from(template.start)
        outcome.error = f"restarted: step {state.current_step!r} no longer waits here"
        return outcome
    if isinstance(step, HttpStep):
        return _resume_effect(run, state, step, event)
    if isinstance(step, HandoffStep):
        return _resume_handoff(run, state, step, event)
    return _answer(run, state, step, event)


def _starting_variables(template: Template, given: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults (less the model settings, which are no variable), then ``given``."""
    variables = {k: v for k, v in template.default_params.items() if k != LLM_PARAMS_KEY}
    variables.update(given)
    return variables


def _unchanged(run: Run, state: ConversationState, status: FlowStatus, error: str = "") -> Outcome:
    """Keep waiting where the state is, with its retries, effect and timer as they were."""
    return run.outcome(
        status,
        state.current_step,
        retries=state.retries,
        waiting_effect=state.waiting_effect,
        timer=state.timer,
        error=error,
    )


def _waiting_status(step: Step | None) -> FlowStatus:
    """What a conversation resting at ``step`` waits for."""
    if isinstance(step, HttpStep):
        return FlowStatus.WAITING_EFFECT
    if isinstance(step, HandoffStep):
        return FlowStatus.HANDOFF
    return FlowStatus.WAITING_INPUT


def _time_out(
    run: Run, state: ConversationState, step: Step | None, event: Timeout, now: datetime
) -> Outcome:
    """Give up waiting at ``step`` and go to its ``on_timeout``, if the timer is due."""
    timer = state.timer
    if timer is None or timer.id != event.timer_id or timer.step_id != state.current_step:
        return _unchanged(run, state, _waiting_status(step), "stale timer")
    if not timer.is_due(now):
        return _unchanged(run, state, _waiting_status(step), "timer not due yet")
    if not isinstance(step, TimedWait) or step.on_timeout is None:
        outcome = _unchanged(run, state, _waiting_status(step), "step has no on_timeout")
        if outcome.state is not None:
            outcome.state.timer = None  # nowhere to go: keep waiting, without the timer
        return outcome
    return run.run_from(step.on_timeout)


def _typed_text(event: Event) -> str | None:
    return event.text if isinstance(event, TextReceived) else None


def _resume_effect(run: Run, state: ConversationState, step: HttpStep, event: Event) -> Outcome:
    if isinstance(event, EffectResult):
        if event.effect_id != state.waiting_effect:
            return _unchanged(run, state, FlowStatus.WAITING_EFFECT, "unexpected effect result")
        if event.ok:
            if step.save_as:
                run.variables[step.save_as] = event.data
            return run.run_from(step.next)
        if step.on_failure is not None:
            return run.run_from(step.on_failure)
        error = event.error or "the HTTP call failed"
        return run.fail(step.id, run.template.texts.effect_failed, error)
    text = _typed_text(event)
    if text is not None and run.compiled.is_cancel(text):
        return run.cancel(step.id)
    if isinstance(event, CUSTOMER_INPUT):
        run.say(run.template.texts.busy, step.id)
    return _unchanged(run, state, FlowStatus.WAITING_EFFECT)


def _resume_handoff(run: Run, state: ConversationState, step: HandoffStep, event: Event) -> Outcome:
    if isinstance(event, Release):
        return run.run_from(step.next)
    text = _typed_text(event)
    if text is not None and run.compiled.is_cancel(text):
        return run.cancel(step.id)
    return _unchanged(run, state, FlowStatus.HANDOFF)


def _answer(run: Run, state: ConversationState, step: Step, event: Event) -> Outcome:
    """Handle an event at a step waiting for the customer (buttons, list, ask, collect)."""
    if not isinstance(event, CUSTOMER_INPUT):
        return _unchanged(run, state, FlowStatus.WAITING_INPUT)
    template, compiled = run.template, run.compiled
    text = _typed_text(event)
    if isinstance(step, ButtonsStep | ListStep):
        menu = compiled.menus.get(step.id)
        option = None
        if menu is not None and isinstance(event, ChoiceReceived):
            option = menu.match_choice(event.choice_id, event.title)
        elif menu is not None and text is not None:
            option = menu.match(text)
        if option is not None:
            run.variables[step.variable] = option.id
            run.variables[f"{step.variable}_label"] = option.label
            return run.run_from(option.next)
        if text is not None and compiled.is_cancel(text):
            return run.cancel(step.id)
        return _reject(run, state, step, template.texts.invalid_choice)
    field, kind, parsed = _parse_field(run, step, event)
    if field is None:  # a collect step whose fields were all filled meanwhile (admin API)
        return run.run_from(getattr(step, "next", None))
    chose_an_option = kind == "choice" and parsed.error is None
    if text is not None and compiled.is_cancel(text) and not chose_an_option:
        return run.cancel(step.id)
    if parsed.error is None:
        run.variables[field] = parsed.value
        if isinstance(step, CollectStep) and run.missing_field(step) is not None:
            run.prompt(step)
            return run.waiting(step.id)
        return run.run_from(getattr(step, "next", None))
    return _reject(run, state, step, parsed.error or template.texts.text_expected)


def _parse_field(run: Run, step: Step, event: Event) -> tuple[str | None, str, ParsedAnswer]:
    """Parse the answer an ask/collect step waits for: (field, answer type, parsed answer)."""
    if isinstance(step, AskStep):
        field: str | None = step.field
        spec = step.answer
    elif isinstance(step, CollectStep):
        field = run.missing_field(step)
        if field is None:
            return None, "", ParsedAnswer(None, None)
        spec = run.template.state_schema[field].answer
    else:
        return None, "", ParsedAnswer(None, None)
    if isinstance(event, TextReceived):
        return field, spec.kind, parse_answer(spec, event.text)
    if isinstance(event, ChoiceReceived):
        parsed = parse_answer(spec, event.choice_id)
        if parsed.error is not None and event.title:
            parsed = parse_answer(spec, event.title)
        return field, spec.kind, parsed
    return field, spec.kind, ParsedAnswer(None, run.template.texts.text_expected)


def _reject(run: Run, state: ConversationState, step: Step, error_text: str) -> Outcome:
    """Re-ask after an invalid answer, or give up once the retries are spent."""
    if state.retries >= run.compiled.retries.get(step.id, run.template.max_retries):
        text = run.template.texts.failed
        return run.fail(step.id, text, "too many invalid answers", input_rejected=True)
    run.say(error_text, step.id)
    run.prompt(step)
    return run.waiting(step.id, retries=state.retries + 1, input_rejected=True)


def accepts(template: Template, state: ConversationState | None, event: Event) -> bool:
    """Whether the waiting step takes ``event`` as a valid answer (cancel words included).

    The service asks before treating an unmatched text as another template's trigger.
    """
    if isinstance(event, Start):
        return True
    if state is None:
        return False
    step = template.step(state.current_step)
    if step is None or not step.waits:
        return False
    if isinstance(step, HttpStep):
        return isinstance(event, EffectResult) and event.effect_id == state.waiting_effect
    if isinstance(step, (HandoffStep, *ai_run.AI_STEPS)):
        # An AI step takes every message (the model decides what it means).
        return isinstance(event, (Release, EffectResult, *CUSTOMER_INPUT))
    text = _typed_text(event)
    if text is not None and template.is_cancel(text):
        return True
    if isinstance(step, ButtonsStep | ListStep):
        menu = template.menu(step.id)
        if menu is None:
            return False
        if isinstance(event, ChoiceReceived):
            return menu.match_choice(event.choice_id, event.title) is not None
        return text is not None and menu.match(text) is not None
    run = Run(template, dict(state.variables), _NO_CONTACT, [])  # no now: arms no timer
    field, _, parsed = _parse_field(run, step, event)
    return field is not None and parsed.error is None
