"""The stand-in Graph API itself: recording, scripting, waiting, thread safety."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from tests.support.graph_stub import GraphStub

TEXT = {"type": "text", "text": {"body": "hi"}}


def send(stub: GraphStub, to: str, *, token: str | None = None, **extra: object) -> httpx.Response:
    return httpx.post(
        f"{stub.url}/v25.0/106540352242922/messages",
        json={"messaging_product": "whatsapp", "to": to, **TEXT, **extra},
        headers={"Authorization": f"Bearer {token or stub.access_token}"},
    )


def test_accepts_and_records_a_message(graph_stub: GraphStub) -> None:
    response = send(graph_stub, "15550001111")
    assert response.status_code == 200
    answer = response.json()
    assert answer["contacts"] == [{"input": "15550001111", "wa_id": "15550001111"}]
    [message] = graph_stub.sent
    assert answer["messages"] == [{"id": message.wamid}]
    assert (message.api_version, message.phone_number_id) == ("v25.0", "106540352242922")
    assert graph_stub.sent_to("15550001111") == [message]
    assert message.text == "hi"
    assert graph_stub.sent_to("someone else") == []


def test_refuses_a_wrong_token_and_unknown_paths(graph_stub: GraphStub) -> None:
    assert send(graph_stub, "1", token="nope").json()["error"]["code"] == 190
    assert httpx.post(f"{graph_stub.url}/v25.0/1/media", json={}).status_code == 404
    assert graph_stub.sent == []
    assert [r.status for r in graph_stub.requests] == [401, 404]


def test_fail_next_then_recovers(graph_stub: GraphStub) -> None:
    graph_stub.fail_next(2, status=503, code=131016, retry_after=1.5)
    first, second, third = (send(graph_stub, "1") for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (503, "1.5")
    assert second.json()["error"]["code"] == 131016
    assert third.status_code == 200
    assert len(graph_stub.sent) == 1 and len(graph_stub.requests) == 3


def test_fail_for_one_recipient_until_reset(graph_stub: GraphStub) -> None:
    graph_stub.fail_for("1", code=131026)
    assert send(graph_stub, "1").json()["error"]["code"] == 131026
    assert send(graph_stub, "2").status_code == 200
    graph_stub.reset()
    assert graph_stub.sent == [] and graph_stub.requests == []
    assert send(graph_stub, "1").status_code == 200


def test_reads_are_recorded_apart_from_messages(graph_stub: GraphStub) -> None:
    graph_stub.fail_next(1)  # scripted failures are for sends only
    response = httpx.post(
        f"{graph_stub.url}/v25.0/1/messages",
        json={"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"},
        headers={"Authorization": f"Bearer {graph_stub.access_token}"},
    )
    assert response.json() == {"success": True}
    assert graph_stub.sent == []
    assert [r.json["message_id"] for r in graph_stub.reads] == ["wamid.X"]


def test_wait_for_blocks_until_enough_arrived(graph_stub: GraphStub) -> None:
    threads = [threading.Thread(target=send, args=(graph_stub, str(n))) for n in range(20)]
    for thread in threads:
        thread.start()
    assert len(graph_stub.wait_for(20, timeout=5)) == 20
    for thread in threads:
        thread.join()
    assert len({m.wamid for m in graph_stub.sent}) == 20


def test_wait_for_times_out_with_a_clear_message(graph_stub: GraphStub) -> None:
    with pytest.raises(TimeoutError, match="for 1 messages, got 0"):
        graph_stub.wait_for(1, timeout=0.05)


async def test_wait_for_async_does_not_block_the_loop(graph_stub: GraphStub) -> None:
    async with httpx.AsyncClient() as http:
        waiting = asyncio.create_task(graph_stub.wait_for_async(1, timeout=5))
        await http.post(
            f"{graph_stub.url}/v25.0/1/messages",
            json={"messaging_product": "whatsapp", "to": "1", **TEXT},
            headers={"Authorization": f"Bearer {graph_stub.access_token}"},
        )
        assert len(await waiting) == 1


def test_stop_releases_the_port() -> None:
    stub = GraphStub().start()
    url = stub.url
    stub.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{url}/v25.0/1/messages", json={})
    with pytest.raises(RuntimeError, match="not started"):
        _ = stub.url
