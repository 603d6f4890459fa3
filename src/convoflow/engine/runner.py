"""Running steps: one :class:`Run` collects what an advance decides.

:meth:`Run.run_from` executes steps from a given id until one waits or the flow ends; the
``prompt`` methods (re)send a waiting step's question. Everything works on plain values
precomputed by :class:`Template`; no model is built here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from . import limits, messages
from .conditions import choose_next
from .menus import Menu
from .outcome import (
    ConversationState,
    Effect,
    EndAction,
    FlowStatus,
    HttpCall,
    OutboundMessage,
    Outcome,
    Timer,
)
from .render import render, render_value
from .steps import (
    AskStep,
    ButtonsStep,
    CollectStep,
    ConditionStep,
    ConnectStep,
    EndStep,
    HandoffStep,
    HttpStep,
    ListStep,
    MediaStep,
    MessageStep,
    SetStep,
    Step,
    TemplateStep,
)
from .template import Template

MAX_STEPS_PER_ADVANCE = 500
"""A guard against loops validation would refuse (a template built without validation)."""

Continue = str | None
"""What a step handler returns to go on: the next step id, or None to end the flow."""


class Run:
    """The working state of one advance: variables, history and what to send.

    ``now`` is the advance's time, from which step timers are armed; None (only checking
    whether an answer fits) arms none. ``ai`` is the AI steps' memory (kept on the state);
    ``input_text`` the customer's words that caused this advance, if any (an AI step
    reached in this run answers them).
    """

    __slots__ = (
        "ai",
        "compiled",
        "contact",
        "effects",
        "history",
        "input_text",
        "messages",
        "now",
        "template",
        "variables",
        "visited",
    )

    def __init__(
        self,
        template: Template,
        variables: dict[str, Any],
        contact: Mapping[str, str],
        history: list[str],
        *,
        now: datetime | None = None,
        ai: dict[str, Any] | None = None,
        input_text: str = "",
    ) -> None:
        self.template = template
        self.compiled = template.compiled
        self.variables = variables
        self.contact = contact
        self.history = history
        self.now = now
        self.ai = ai
        self.input_text = input_text
        self.messages: list[OutboundMessage] = []
        self.effects: list[Effect] = []
        self.visited: list[str] = []

    # -- outcomes ---------------------------------------------------------------------

    def outcome(
        self,
        status: FlowStatus,
        at_step: str | None,
        *,
        retries: int = 0,
        waiting_effect: str | None = None,
        timer: Timer | None = None,
        **extra: Any,
    ) -> Outcome:
        """Close the run; ``at_step`` None means the conversation is over."""
        state = None
        if at_step is not None:
            state = ConversationState(
                self.template.name,
                at_step,
                self.variables,
                retries,
                waiting_effect,
                self.history,
                timer,
                self.ai,
            )
        return Outcome(
            status,
            state,
            self.messages,
            self.effects,
            self.visited,
            variables=self.variables,
            **extra,
        )

    def send(self, body: dict[str, Any] | None, step_id: str) -> None:
        """Queue a message (None is skipped: an empty text)."""
        if body is not None:
            self.messages.append(OutboundMessage(body, step_id))

    def say(self, text: str, step_id: str) -> None:
        """Queue a text, rendered with the variables."""
        self.send(messages.text_message(self.render(text)), step_id)

    def render(self, text: str | None) -> str:
        """Render ``{{variables}}`` in a text (None → "")."""
        return render(text, self.variables, self.contact) if text else ""

    def finish(self, step_id: str, text: str | None = None, *, end_action: bool = True) -> Outcome:
        """Complete the flow: say goodbye and run the template's end action."""
        if text:
            self.say(text, step_id)
        template = self.template
        if end_action and template.end_action_type:
            target = render_value(template.end_action_target or {}, self.variables, self.contact)
            self.effects.append(
                EndAction(
                    effect_id=f"{step_id}#end{len(self.history)}",
                    action_type=template.end_action_type,
                    target=target,
                    state_data=dict(self.variables),
                )
            )
        return self.outcome(FlowStatus.COMPLETED, None)

    def fail(self, step_id: str, text: str, error: str, **extra: Any) -> Outcome:
        """Give up politely."""
        self.say(text, step_id)
        return self.outcome(FlowStatus.FAILED, None, error=error, **extra)

    def cancel(self, step_id: str) -> Outcome:
        """The customer asked to stop."""
        self.say(self.template.texts.cancelled, step_id)
        return self.outcome(FlowStatus.CANCELLED, None)

    # -- running ----------------------------------------------------------------------

    def run_from(self, step_id: str | None) -> Outcome:
        """Run steps from ``step_id`` until one waits or the flow ends."""
        last = self.visited[-1] if self.visited else (self.history[-1] if self.history else "")
        for _ in range(MAX_STEPS_PER_ADVANCE):
            if step_id is None:
                return self.finish(last)
            step = self.compiled.step(step_id)
            if step is None:
                text = self.template.texts.failed
                return self.fail(last, text, f"step {step_id!r} does not exist")
            self.visited.append(step_id)
            self.history.append(step_id)
            last = step_id
            result = _HANDLERS[step.type](self, step)
            if isinstance(result, Outcome):
                return result
            step_id = result
        return self.fail(last, self.template.texts.failed, "too many steps without waiting")

    def waiting(self, step_id: str, *, retries: int = 0, input_rejected: bool = False) -> Outcome:
        """Stop and wait for the customer's answer at ``step_id`` (its timer starts now)."""
        return self.outcome(
            FlowStatus.WAITING_INPUT,
            step_id,
            retries=retries,
            input_rejected=input_rejected,
            timer=self.timer_for(step_id),
        )

    def timer_for(self, step_id: str) -> Timer | None:
        """A fresh timer for waiting at ``step_id``: due its ``timeout`` from now, if any."""
        seconds = self.compiled.timeouts.get(step_id)
        if self.now is None or seconds is None:
            return None
        return Timer(step_id, self.now + timedelta(seconds=seconds))

    def missing_field(self, step: CollectStep) -> str | None:
        """The first field the collect step still needs, or None."""
        for name in self.compiled.collect_fields.get(step.id, ()):
            if self.variables.get(name) in (None, ""):
                return name
        return None

    # -- prompts ----------------------------------------------------------------------

    def prompt(self, step: Step) -> None:
        """(Re)send the question of a waiting step."""
        if isinstance(step, ButtonsStep):
            self._prompt_buttons(step)
        elif isinstance(step, ListStep):
            self._prompt_list(step)
        elif isinstance(step, AskStep):
            self._prompt_question(step.id, step.prompt, self.compiled.menus.get(step.id))
        elif isinstance(step, CollectStep):
            name = self.missing_field(step)
            if name is not None:
                spec = self.template.state_schema[name]
                self._prompt_question(step.id, spec.prompt_for(name), spec.answer.menu)

    def _prompt_buttons(self, step: ButtonsStep) -> None:
        menu = self.compiled.menus.get(step.id)
        options = menu.options if menu else ()
        body = messages.menu_message(
            self.render(step.text),
            options,
            button=step.button,
            header=self.render(step.header),
            footer=self.render(step.footer),
        )
        self.send(body, step.id)

    def _prompt_list(self, step: ListStep) -> None:
        body = messages.sectioned_menu_message(
            self.render(step.text),
            step.button,
            self.compiled.sections.get(step.id, ()),
            header=self.render(step.header),
            footer=self.render(step.footer),
        )
        self.send(body, step.id)

    def _prompt_question(self, step_id: str, prompt: str, menu: Menu | None) -> None:
        text = self.render(prompt)
        if menu is None:
            self.send(messages.text_message(text) or messages.text_message("?"), step_id)
        else:
            self.send(messages.menu_message(text, menu.options), step_id)


# -- step handlers: each returns an Outcome to stop, or where to continue ---------------


def _message(run: Run, step: MessageStep) -> Continue:
    run.send(messages.text_message(run.render(step.text), preview_url=step.preview_url), step.id)
    return step.next


def _media(run: Run, step: MediaStep) -> Continue:
    link = run.render(step.url) if step.url else None
    caption = run.render(step.caption)
    if link or step.media_id:
        body = messages.media_message(
            step.type,
            link=link,
            media_id=step.media_id,
            caption=caption,
            filename=run.render(step.filename),
        )
        run.send(body, step.id)
    if step.type == "audio" and caption:
        run.send(messages.text_message(caption), step.id)
    return step.next


def _template(run: Run, step: TemplateStep) -> Continue:
    components: list[Any] = render_value(step.components, run.variables, run.contact)
    if step.parameters and not any(c.get("type") == "body" for c in components):
        parameters = [{"type": "text", "text": run.render(text)} for text in step.parameters]
        components = [*components, {"type": "body", "parameters": parameters}]
    run.send(messages.template_message(step.name, step.language, components), step.id)
    return step.next


def _set(run: Run, step: SetStep) -> Continue:
    for name, value in step.values.items():
        run.variables[name] = render_value(value, run.variables, run.contact)
    return step.next


def _condition(run: Run, step: ConditionStep) -> Continue:
    return choose_next(step.branches, step.default, run.variables, run.contact)


def _wait_for_answer(run: Run, step: ButtonsStep | ListStep | AskStep) -> Outcome:
    run.prompt(step)
    return run.waiting(step.id)


def _collect(run: Run, step: CollectStep) -> Outcome | Continue:
    if run.missing_field(step) is None:
        return step.next
    if step.intro:
        run.say(step.intro, step.id)
    run.prompt(step)
    return run.waiting(step.id)


def _http(run: Run, step: HttpStep) -> Outcome:
    effect_id = f"{step.id}#{len(run.history)}"
    run.effects.append(
        HttpCall(
            effect_id=effect_id,
            step_id=step.id,
            method=step.method,
            url=run.render(step.url),
            headers={key: run.render(value) for key, value in step.headers.items()},
            body=render_value(step.body, run.variables, run.contact),
            timeout_seconds=step.timeout,
            max_attempts=step.max_attempts,
        )
    )
    return run.outcome(FlowStatus.WAITING_EFFECT, step.id, waiting_effect=effect_id)


def _connect(run: Run, step: ConnectStep) -> Outcome:
    return run.outcome(FlowStatus.COMPLETED, step.id, connect_to=step.template)


def _handoff(run: Run, step: HandoffStep) -> Outcome:
    run.say(step.text, step.id)
    reason = run.render(step.reason) if step.reason else f"handoff step {step.id!r}"
    return run.outcome(
        FlowStatus.HANDOFF,
        step.id,
        timer=run.timer_for(step.id),
        handoff_reason=reason[: limits.HANDOFF_REASON],
    )


def _end(run: Run, step: EndStep) -> Outcome:
    return run.finish(step.id, step.text, end_action=step.end_action)


StepHandler = Callable[[Run, Any], Outcome | Continue]

_HANDLERS: dict[str, StepHandler] = {
    "message": _message,
    "buttons": _wait_for_answer,
    "list": _wait_for_answer,
    "image": _media,
    "video": _media,
    "audio": _media,
    "document": _media,
    "template": _template,
    "ask": _wait_for_answer,
    "collect": _collect,
    "condition": _condition,
    "set": _set,
    "http": _http,
    "connect": _connect,
    "handoff": _handoff,
    "end": _end,
}


def register_step_handler(step_type: str, handler: StepHandler) -> None:
    """Teach :meth:`Run.run_from` a step type whose handler lives in its own module (the
    AI steps: :mod:`.ai_run` registers them when the engine is imported)."""
    _HANDLERS[step_type] = handler
