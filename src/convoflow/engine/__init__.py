"""The pure engine: templates, validation and ``advance()``; no I/O, no clock, no database.

Typical use by a service::

    template = load_template(document, name="order")       # or Template.from_parts(...)
    outcome = advance(template, state, TextReceived("2"), now, contact={"name": "Ana"})
"""

from .advance import accepts, advance
from .answers import (
    ParsedAnswer,
    coerce_state_data,
    coerce_value,
    parse_answer,
    validate_state_data,
)
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
from .fields import FieldSpec
from .importers import parse_document, to_flow_runner, to_native
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
from .problems import Problem, TemplateInvalid
from .render import render
from .steps import STEP_TYPES, Step
from .template import EngineTexts, Template
from .validation import load_template, validate_template

__all__ = [
    "STEP_TYPES",
    "ChoiceReceived",
    "ConversationState",
    "Effect",
    "EffectResult",
    "EndAction",
    "EngineTexts",
    "Event",
    "FieldSpec",
    "FlowStatus",
    "HttpCall",
    "LocationReceived",
    "MediaReceived",
    "OutboundMessage",
    "Outcome",
    "ParsedAnswer",
    "Problem",
    "Release",
    "Start",
    "Step",
    "Template",
    "TemplateInvalid",
    "TextReceived",
    "Timeout",
    "Timer",
    "accepts",
    "advance",
    "coerce_state_data",
    "coerce_value",
    "load_template",
    "parse_answer",
    "parse_document",
    "render",
    "to_flow_runner",
    "to_native",
    "validate_state_data",
    "validate_template",
]
