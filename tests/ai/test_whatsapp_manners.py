"""WhatsApp manners of model turns, end to end through signed webhooks and the Graph
stand-in: "typing…" while the model works, `reply` choices as buttons or a list, long
answers split under WhatsApp's 4096 characters."""

from __future__ import annotations

from tests.ai.conftest import AiApp
from tests.ai.helpers import assistant, create_template, replies, text_of
from tests.support.llm_stub import text, tool_call
from tests.support.webhooks import eventually

TEXT_LIMIT = 4096


async def test_typing_shows_while_the_model_works(patient_app: AiApp) -> None:
    app, llm = patient_app, patient_app.llm
    await create_template(app, **assistant())
    gate = llm.held(text("Here I am."))
    await app.says("assist")
    await llm.wait_for_async(1, within=60)  # the model has the question and holds it

    async def typing_shown() -> bool:
        return any(read.json.get("typing_indicator") for read in app.graph.reads)

    await eventually(typing_shown, within=60, what="the typing indicator")
    assert app.graph.sent == []  # no reply yet: the customer sees "typing…"
    [read] = app.graph.reads
    assert read.json["typing_indicator"] == {"type": "text"}
    assert read.json["status"] == "read"

    gate.set()
    [answer] = await replies(app, 1)
    assert text_of(answer) == "Here I am."


async def test_reply_choices_become_buttons_up_to_three_then_a_list(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(app, **assistant())
    three = ["Savings", "Current", "Business"]
    llm.answer(tool_call("reply", {"text": "Which account?", "choices": three}))
    await app.says("assist")
    [buttons] = await replies(app, 1)
    assert buttons["interactive"]["type"] == "button"
    assert text_of(buttons) == "Which account?"
    titles = [b["reply"]["title"] for b in buttons["interactive"]["action"]["buttons"]]
    assert titles == three

    five = ["Mon", "Tue", "Wed", "Thu", "Fri"]
    llm.answer(tool_call("reply", {"text": "Which day suits you?", "choices": five}))
    await app.says("Savings")
    [_, listed] = await replies(app, 2)
    assert listed["interactive"]["type"] == "list"
    assert text_of(listed) == "Which day suits you?"
    rows = [row["title"] for s in listed["interactive"]["action"]["sections"] for row in s["rows"]]
    assert rows == five


async def test_a_long_answer_is_split_under_the_text_limit(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(app, **assistant())
    paragraphs = [f"Paragraph {n}: " + "terms and conditions apply. " * 60 for n in range(1, 7)]
    long_answer = "\n\n".join(part.strip() for part in paragraphs)
    assert len(long_answer) > 2 * TEXT_LIMIT
    llm.answer(text(long_answer))
    await app.says("assist")

    async def all_sent() -> bool:
        sent = "".join(text_of(m.json) for m in app.graph.sent)
        return len(sent.replace("\n", "").replace(" ", "")) >= len(
            long_answer.replace("\n", "").replace(" ", "")
        )

    await eventually(all_sent, what="every part of the answer")
    parts = [text_of(m.json) for m in app.graph.sent]
    assert len(parts) == 3
    assert all(0 < len(part) <= TEXT_LIMIT for part in parts)
    assert all(part.startswith("Paragraph") for part in parts)  # cut between paragraphs
    assert "\n\n".join(parts) == long_answer  # nothing lost, in order
