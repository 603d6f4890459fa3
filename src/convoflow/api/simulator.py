"""``/api/simulator/sessions``: a test customer talking to a template without WhatsApp."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from convoflow.api.deps import CurrentUser, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.schemas.common import Deleted
from convoflow.api.schemas.simulator import (
    SimulatorMessageIn,
    SimulatorSessionOut,
    SimulatorStartIn,
)
from convoflow.runtime import Runtime
from convoflow.services.simulator.sessions import Simulator

router = APIRouter(
    prefix="/api/simulator",
    tags=["simulator"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 404, 422),
)


def _simulator(runtime: Runtime) -> Simulator:
    return Simulator(runtime.access, runtime.processor)


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SimulatorSessionOut,
    responses=error_responses(403),
)
async def open_session(
    body: SimulatorStartIn, caller: CurrentUser, runtime: RuntimeDep
) -> SimulatorSessionOut:
    """Start a template for a new test customer; the answer holds the bot's first messages.

    Nothing reaches WhatsApp, and simulated runs are left out of the statistics.
    """
    turn = await _simulator(runtime).open(
        caller=caller,
        template_id=body.template_id,
        use_draft=body.use_draft,
        user_type=body.user_type,
    )
    return SimulatorSessionOut.of(turn)


@router.get("/sessions/{session_id}", response_model=SimulatorSessionOut)
async def look_at_session(
    session_id: str, caller: CurrentUser, runtime: RuntimeDep
) -> SimulatorSessionOut:
    """Where the session is, with bot messages that arrived since (after an `http` step)."""
    turn = await _simulator(runtime).look(caller=caller, session_id=session_id)
    return SimulatorSessionOut.of(turn)


@router.post("/sessions/{session_id}/messages", response_model=SimulatorSessionOut)
async def send_message(
    session_id: str, body: SimulatorMessageIn, caller: CurrentUser, runtime: RuntimeDep
) -> SimulatorSessionOut:
    """The test customer writes `text`, or taps the button or list row `reply_id` of the
    bot's latest interactive message."""
    simulator = _simulator(runtime)
    if body.reply_id is not None:
        turn = await simulator.tap(caller=caller, session_id=session_id, reply_id=body.reply_id)
    else:
        turn = await simulator.say(caller=caller, session_id=session_id, text=body.text or "")
    return SimulatorSessionOut.of(turn)


@router.delete("/sessions/{session_id}", response_model=Deleted)
async def end_session(session_id: str, caller: CurrentUser, runtime: RuntimeDep) -> Deleted:
    """End the session and delete its test customer's state, runs and messages."""
    await _simulator(runtime).close(caller=caller, session_id=session_id)
    return Deleted(id=session_id, action="deleted")
