"""Which read mark a processed batch earns, and when it says "typing…"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from convoflow.services.inbox.read_marks import ProcessedInbound, ReadMark, read_marks_for

ARRIVED = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def processed(
    row_id: int,
    *,
    number: str = "106540352242922",
    replied: bool = True,
    awaits_effect: bool = False,
) -> ProcessedInbound:
    return ProcessedInbound(
        row_id=row_id,
        wamid=f"wamid.{row_id}",
        phone_number_id=number,
        received_at=ARRIVED,
        replied=replied,
        awaits_effect=awaits_effect,
    )


def after(seconds: float) -> datetime:
    return ARRIVED + timedelta(seconds=seconds)


def test_an_empty_batch_earns_no_mark() -> None:
    assert read_marks_for([], finished_at=after(0.1)) == []


def test_one_mark_for_the_newest_message_of_the_batch() -> None:
    batch = [processed(7), processed(9), processed(8)]

    assert read_marks_for(batch, finished_at=after(0.1)) == [
        ReadMark(phone_number_id="106540352242922", wamid="wamid.9", typing_indicator=False)
    ]


def test_a_customer_writing_to_two_numbers_gets_a_mark_in_each_chat() -> None:
    batch = [processed(1, number="A"), processed(2, number="B"), processed(3, number="A")]

    marks = read_marks_for(batch, finished_at=after(0.1))

    assert [(mark.phone_number_id, mark.wamid) for mark in marks] == [
        ("B", "wamid.2"),
        ("A", "wamid.3"),
    ]


def test_a_reply_queued_within_a_second_needs_no_typing_indicator() -> None:
    [mark] = read_marks_for([processed(1)], finished_at=after(1.0))
    assert not mark.typing_indicator


def test_a_reply_queued_later_than_a_second_is_announced_by_typing() -> None:
    [mark] = read_marks_for([processed(1)], finished_at=after(1.5))
    assert mark.typing_indicator


def test_a_turn_waiting_for_an_http_call_shows_typing_at_once() -> None:
    waiting = processed(1, replied=False, awaits_effect=True)
    [mark] = read_marks_for([waiting], finished_at=after(0.1))
    assert mark.typing_indicator


def test_no_typing_when_no_reply_is_coming() -> None:
    silent = processed(1, replied=False, awaits_effect=False)
    [mark] = read_marks_for([silent], finished_at=after(30))
    assert not mark.typing_indicator


def test_only_the_newest_message_decides_about_typing() -> None:
    slow_old = ProcessedInbound(
        row_id=1,
        wamid="wamid.1",
        phone_number_id="N",
        received_at=ARRIVED - timedelta(seconds=10),
        replied=True,
        awaits_effect=False,
    )
    [mark] = read_marks_for([slow_old, processed(2, number="N")], finished_at=after(0.2))
    assert (mark.wamid, mark.typing_indicator) == ("wamid.2", False)
