"""The simulator's requests and responses, with the bot's messages as WhatsApp shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from convoflow.engine.outcome import OutboundMessage
from convoflow.services.simulator.sessions import SimulatorTurn

MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")


class SimulatorStartIn(BaseModel):
    """Which template to run, and as which kind of customer."""

    model_config = ConfigDict(extra="forbid")

    template_id: str = Field(min_length=1, max_length=26, description="Any version id.")
    use_draft: bool = Field(
        default=True, description="Run your draft (when there is one), else the latest version."
    )
    user_type: str | None = Field(
        default=None, max_length=100, description="The test customer's user type (id or name)."
    )


class SimulatorMessageIn(BaseModel):
    """What the test customer sends: a text, or a tap on a button or list row."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=4096)
    reply_id: str | None = Field(
        default=None, min_length=1, max_length=256, description="The tapped option's id."
    )

    @model_validator(mode="after")
    def _one_of(self) -> SimulatorMessageIn:
        if (self.text is None) == (self.reply_id is None):
            raise PydanticCustomError("one_of", "send either text or reply_id")
        return self


class OptionOut(BaseModel):
    """A reply button or a list row."""

    id: str
    title: str
    description: str | None = None


class SectionOut(BaseModel):
    """A titled group of list rows."""

    title: str | None = None
    rows: list[OptionOut]


class SimulatedMessage(BaseModel):
    """One bot message as WhatsApp renders it, with the Graph API object it is."""

    kind: Literal[
        "text",
        "buttons",
        "list",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "template",
        "other",
    ]
    step: str = Field(description="The step that sent it.")
    text: str | None = Field(default=None, description="Text, interactive body or caption.")
    header: str | None = None
    footer: str | None = None
    buttons: list[OptionOut] | None = None
    button: str | None = Field(default=None, description="The label that opens a list.")
    sections: list[SectionOut] | None = None
    url: str | None = Field(default=None, description="Media by link.")
    media_id: str | None = None
    filename: str | None = None
    template: dict[str, Any] | None = Field(
        default=None, description="An approved template: `name`, `language`, `components`."
    )
    payload: dict[str, Any] = Field(description="The Graph API message object.")

    @classmethod
    def of(cls, message: OutboundMessage) -> SimulatedMessage:
        """Render a message the engine produced."""
        body = message.body
        kind = body.get("type")
        common: dict[str, Any] = {"step": message.step_id, "payload": body}
        if kind == "text":
            return cls(kind="text", text=str((body.get("text") or {}).get("body", "")), **common)
        if kind == "interactive":
            return cls._interactive(body.get("interactive") or {}, common)
        if kind in MEDIA_KINDS:
            media = body.get(str(kind)) or {}
            return cls(
                kind=kind,
                url=media.get("link"),
                media_id=media.get("id"),
                text=media.get("caption"),
                filename=media.get("filename"),
                **common,
            )
        if kind == "template":
            template = body.get("template") or {}
            language = template.get("language")
            shown = {
                "name": template.get("name"),
                "language": language.get("code") if isinstance(language, dict) else language,
                "components": template.get("components") or [],
            }
            return cls(kind="template", template=shown, **common)
        return cls(kind="other", **common)

    @classmethod
    def _interactive(cls, interactive: dict[str, Any], common: dict[str, Any]) -> SimulatedMessage:
        action = interactive.get("action") or {}
        frame = {
            "text": (interactive.get("body") or {}).get("text"),
            "header": (interactive.get("header") or {}).get("text"),
            "footer": (interactive.get("footer") or {}).get("text"),
        }
        if interactive.get("type") == "button":
            buttons = [
                OptionOut(id=str(reply.get("id")), title=str(reply.get("title")))
                for item in action.get("buttons") or []
                if isinstance(reply := item.get("reply"), dict)
            ]
            return cls(kind="buttons", buttons=buttons, **frame, **common)
        if interactive.get("type") == "list":
            sections = [
                SectionOut(
                    title=section.get("title"),
                    rows=[
                        OptionOut(
                            id=str(row.get("id")),
                            title=str(row.get("title")),
                            description=row.get("description"),
                        )
                        for row in section.get("rows") or []
                    ],
                )
                for section in action.get("sections") or []
            ]
            return cls(
                kind="list", button=action.get("button"), sections=sections, **frame, **common
            )
        return cls(kind="other", **frame, **common)


class SimulatorSessionOut(BaseModel):
    """A simulator session after a turn."""

    id: str
    template_id: str = Field(description="The version it runs (a snapshot when a draft).")
    family_id: str
    use_draft: bool = Field(description="It runs your draft (false: the latest version).")
    user_type: str | None
    messages: list[SimulatedMessage] = Field(description="The bot's new messages, in order.")
    step: str | None = Field(description="The step the run waits at (null once it ended).")
    template_name: str | None
    finished: bool
    status: str | None = Field(
        description="The run's status: active, waiting, completed, failed or cancelled."
    )
    visited: list[str] = Field(description="The steps the run visited so far, in order.")

    @classmethod
    def of(cls, turn: SimulatorTurn) -> SimulatorSessionOut:
        """Build from the service's turn."""
        session = turn.session
        return cls(
            id=session.id,
            template_id=session.template_id,
            family_id=session.family_id,
            use_draft=session.use_draft,
            user_type=turn.user_type,
            messages=[SimulatedMessage.of(message) for message in turn.messages],
            step=turn.step,
            template_name=turn.template_name,
            finished=turn.finished,
            status=turn.status,
            visited=turn.visited,
        )
