"""GraphClient against the stand-in Graph API on 127.0.0.1 and against httpx.MockTransport.

The tests against the real server run through both transports: the runtime's aiohttp one
and a caller's httpx client."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from convoflow.channels.whatsapp.graph import GraphClient
from convoflow.channels.whatsapp.graph_http import AiohttpTransport, GraphTransport
from convoflow.engine import messages
from convoflow.engine.menus import MenuOption
from convoflow.errors import PermanentGraphError, RetryableGraphError
from tests.support.graph_stub import GraphStub

PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "16505551234"


def text(body: str) -> dict[str, Any]:
    """A text message object, as the engine hands it to the sender."""
    return {"type": "text", "text": {"body": body}}


Http = GraphTransport | httpx.AsyncClient


@pytest.fixture(params=["aiohttp", "httpx"])
async def http(request: pytest.FixtureRequest) -> AsyncIterator[Http]:
    if request.param == "aiohttp":
        transport = AiohttpTransport(timeout_seconds=5)
        yield transport
        await transport.aclose()
    else:
        async with httpx.AsyncClient(timeout=5) as client:
            yield client


@pytest.fixture
def client(http: Http, graph_stub: GraphStub) -> GraphClient:
    return GraphClient(
        http, api_base=graph_stub.url, api_version="v25.0", access_token=graph_stub.access_token
    )


# --- against the real loopback server ---


async def test_send_text_returns_the_wamid(client: GraphClient, graph_stub: GraphStub) -> None:
    wamid = await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("Hi!"))

    [request] = graph_stub.sent
    assert wamid == request.wamid and wamid.startswith("wamid.")
    assert request.path == f"/v25.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {graph_stub.access_token}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "Hi!"},
    }


async def test_send_by_bsuid_with_reply_context(client: GraphClient, graph_stub: GraphStub) -> None:
    body = messages.reply_buttons_message("Pick", [MenuOption("a", "A"), MenuOption("b", "B")])
    await client.send_message(
        PHONE_NUMBER_ID,
        recipient="US.13491208655302741918",
        body=body,
        reply_to="wamid.QUOTED",
        callback_data="step=pick",
    )
    [request] = graph_stub.sent_to("US.13491208655302741918")
    assert "to" not in request.json
    assert request.json["recipient"] == "US.13491208655302741918"
    assert request.json["context"] == {"message_id": "wamid.QUOTED"}
    assert request.json["biz_opaque_callback_data"] == "step=pick"
    assert request.json["interactive"] == body["interactive"]


async def test_each_send_gets_a_distinct_wamid(client: GraphClient) -> None:
    wamids = {
        await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text(str(n))) for n in range(5)
    }
    assert len(wamids) == 5


async def test_mark_as_read(client: GraphClient, graph_stub: GraphStub) -> None:
    await client.mark_as_read(PHONE_NUMBER_ID, "wamid.IN", typing_indicator=True)
    assert graph_stub.sent == []
    [read] = graph_stub.reads
    assert read.json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN",
        "typing_indicator": {"type": "text"},
    }


async def test_throughput_limit_is_retryable_with_retry_after(
    client: GraphClient, graph_stub: GraphStub
) -> None:
    graph_stub.fail_next(1, status=429, code=130429, retry_after=2)
    with pytest.raises(RetryableGraphError) as caught:
        await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("x"))
    assert (caught.value.code, caught.value.http_status, caught.value.retry_after) == (
        130429,
        429,
        2.0,
    )
    # the next one goes through
    await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("x"))
    assert len(graph_stub.sent) == 1


async def test_reengagement_is_permanent_for_that_recipient_only(
    client: GraphClient, graph_stub: GraphStub
) -> None:
    graph_stub.fail_for(CUSTOMER, code=131047)
    with pytest.raises(PermanentGraphError) as caught:
        await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("x"))
    assert caught.value.code == 131047
    await client.send_message(PHONE_NUMBER_ID, to="14155550123", body=text("x"))
    assert [m.to for m in graph_stub.sent] == ["14155550123"]


async def test_wrong_token_is_permanent(http: Http, graph_stub: GraphStub) -> None:
    client = GraphClient(http, api_base=graph_stub.url, access_token="stale")
    with pytest.raises(PermanentGraphError) as caught:
        await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("x"))
    assert (caught.value.code, caught.value.http_status) == (190, 401)


async def test_a_numbers_own_token_replaces_the_clients_for_that_call(
    client: GraphClient, graph_stub: GraphStub
) -> None:
    other_number = "15552220000"
    graph_stub.accept_token(other_number, "token-of-the-other-number")

    await client.send_message(
        other_number,
        to=CUSTOMER,
        body=text("x"),
        access_token="token-of-the-other-number",
    )
    await client.mark_as_read(other_number, "wamid.X", access_token="token-of-the-other-number")
    await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("y"))

    assert [r.headers["authorization"] for r in graph_stub.requests] == [
        "Bearer token-of-the-other-number",
        "Bearer token-of-the-other-number",
        f"Bearer {graph_stub.access_token}",
    ]
    assert [r.status for r in graph_stub.requests] == [200, 200, 200]


async def test_unreachable_server_is_retryable(http: Http) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = GraphClient(http, api_base=f"http://127.0.0.1:{port}", access_token="t")
    with pytest.raises(RetryableGraphError) as caught:
        await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("x"))
    assert caught.value.code is None and caught.value.http_status is None


async def test_a_server_that_never_answers_times_out_as_retryable() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # takes the request, never answers
        await asyncio.Event().wait()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = AiohttpTransport(timeout_seconds=0.2)
    client = GraphClient(transport, api_base=f"http://127.0.0.1:{port}", access_token="t")
    try:
        with pytest.raises(RetryableGraphError) as caught:
            await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("x"))
        assert str(caught.value).startswith("Graph API timed out")
    finally:
        await client.aclose()
        server.close()


# --- against httpx.MockTransport ---


MockClient = Callable[[Callable[[httpx.Request], httpx.Response]], GraphClient]


@pytest.fixture
async def mock_client() -> AsyncIterator[MockClient]:
    """Builds GraphClients whose HTTP client answers through ``handler``."""
    opened: list[httpx.AsyncClient] = []

    def build(handler: Callable[[httpx.Request], httpx.Response]) -> GraphClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        opened.append(http)
        return GraphClient(
            http, api_base="https://graph.test/", api_version="v25.0", access_token="t"
        )

    yield build
    for http in opened:
        await http.aclose()


def graph_error(status: int, code: int, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"message": f"(#{code}) x", "type": "OAuthException", "code": code}}
    return httpx.Response(status, json=body, headers=headers)


async def test_mock_transport_sees_the_exact_request(mock_client: MockClient) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"messages": [{"id": "wamid.MOCK"}]})

    client = mock_client(handler)
    wamid = await client.send_message("123/../x", to="+1 650 555 1234", body=text("hi"))
    assert wamid == "wamid.MOCK"
    assert str(seen[0].url) == "https://graph.test/v25.0/123%2F..%2Fx/messages"
    assert json.loads(seen[0].content)["to"] == "+1 650 555 1234"


@pytest.mark.parametrize(
    ("response", "error_class", "code"),
    [
        (graph_error(400, 131056), RetryableGraphError, 131056),
        (graph_error(500, 131000), RetryableGraphError, 131000),
        (httpx.Response(502, text="<html>Bad gateway</html>"), RetryableGraphError, None),
        (httpx.Response(503), RetryableGraphError, None),
        (graph_error(400, 132001), PermanentGraphError, 132001),
        (graph_error(400, 131026), PermanentGraphError, 131026),
        (graph_error(400, 100), PermanentGraphError, 100),
    ],
)
async def test_mock_error_responses_are_classified(
    mock_client: MockClient,
    response: httpx.Response,
    error_class: type[Exception],
    code: int | None,
) -> None:
    client = mock_client(lambda request: response)
    with pytest.raises(error_class) as caught:
        await client.send_message(PHONE_NUMBER_ID, to=CUSTOMER, body=text("x"))
    assert getattr(caught.value, "code", "missing") == code


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.RemoteProtocolError("closed mid-response"),
    ],
)
async def test_mock_transport_errors_are_retryable(
    mock_client: MockClient, exception: Exception
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    with pytest.raises(RetryableGraphError) as caught:
        await mock_client(handler).send_message(PHONE_NUMBER_ID, to=CUSTOMER, body={"type": "x"})
    assert caught.value.__cause__ is exception


async def test_retry_after_date_header_is_parsed(mock_client: MockClient) -> None:
    response = graph_error(429, 130429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with pytest.raises(RetryableGraphError) as caught:
        await mock_client(lambda r: response).mark_as_read(PHONE_NUMBER_ID, "wamid.X")
    assert caught.value.retry_after == 0.0  # a date in the past


@pytest.mark.parametrize(
    "answer", [{}, {"messages": []}, {"messages": ["x"]}, {"messages": [{"id": 5}]}, None]
)
async def test_success_without_wamid_is_permanent(mock_client: MockClient, answer: Any) -> None:
    response = httpx.Response(200, json=answer) if answer is not None else httpx.Response(200)
    with pytest.raises(PermanentGraphError, match="no messages"):
        await mock_client(lambda r: response).send_message(
            PHONE_NUMBER_ID, to=CUSTOMER, body=text("x")
        )


async def test_argument_errors(mock_client: MockClient) -> None:
    client = mock_client(lambda r: httpx.Response(200))
    with pytest.raises(ValueError, match="needs `to`"):
        await client.send_message(PHONE_NUMBER_ID, body=text("x"))
    with pytest.raises(ValueError, match="addressing keys"):
        await client.send_message(PHONE_NUMBER_ID, to="1", body={"to": "2", "type": "text"})
    with pytest.raises(ValueError, match="phone_number_id"):
        await client.send_message("", to="1", body=text("x"))
