"""``/api/phone-numbers``: each user's own WhatsApp business numbers and their tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Page
from convoflow.api.schemas.phone_numbers import PhoneNumberIn, PhoneNumberOut, PhoneNumberUpdate
from convoflow.services.access.numbers.registry import NumberRegistry

router = APIRouter(
    prefix="/api/phone-numbers",
    tags=["phone numbers"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)

NumberRef = Annotated[
    str, Path(max_length=64, description="The number's `id`, or its `phone_number_id`.")
]


def number_registry(runtime: RuntimeDep) -> NumberRegistry:
    """The registry on this process's token key, dropping this process's caches on change."""

    def forget(phone_number_id: str) -> None:
        runtime.access_tokens.forget(phone_number_id)
        runtime.phone_numbers.forget()

    return NumberRegistry(
        cipher=runtime.token_cipher,
        server_number=runtime.access_tokens.server_number,
        forget=forget,
    )


Numbers = Annotated[NumberRegistry, Depends(number_registry)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PhoneNumberOut,
    responses=error_responses(409),
)
async def register_number(
    body: PhoneNumberIn, caller: CurrentUser, db_session: DbSessionDep, numbers: Numbers
) -> PhoneNumberOut:
    """Connect a WhatsApp business number: its webhooks reach you, and your replies go out
    from it with its token (409 when the phone_number_id is registered already)."""
    view = await numbers.create(
        db_session, caller=caller, fields=body.model_dump(exclude_none=True)
    )
    return PhoneNumberOut.of(view)


@router.get("", response_model=Page[PhoneNumberOut])
async def list_numbers(
    caller: CurrentUser,
    db_session: DbSessionDep,
    numbers: Numbers,
    page: Paging,
) -> Page[PhoneNumberOut]:
    """Your numbers, oldest first."""
    views, total = await numbers.page(
        db_session, caller=caller, limit=page.limit, offset=page.offset
    )
    return Page[PhoneNumberOut].of([PhoneNumberOut.of(view) for view in views], total, page)


@router.get("/{number}", response_model=PhoneNumberOut, responses=error_responses(404))
async def get_number(
    number: NumberRef, caller: CurrentUser, db_session: DbSessionDep, numbers: Numbers
) -> PhoneNumberOut:
    """One of your numbers."""
    return PhoneNumberOut.of(await numbers.get(db_session, caller=caller, number=number))


@router.patch("/{number}", response_model=PhoneNumberOut, responses=error_responses(404))
async def update_number(
    number: NumberRef,
    body: PhoneNumberUpdate,
    caller: CurrentUser,
    db_session: DbSessionDep,
    numbers: Numbers,
) -> PhoneNumberOut:
    """Change the display number, tier, WABA id or token (fields left out keep their value)."""
    fields = body.model_dump(exclude_unset=True)
    view = await numbers.update(db_session, caller=caller, number=number, fields=fields)
    return PhoneNumberOut.of(view)


@router.delete(
    "/{number}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_number(
    number: NumberRef, caller: CurrentUser, db_session: DbSessionDep, numbers: Numbers
) -> Response:
    """Disconnect a number: its webhooks are stored as ignored, its queued messages fail."""
    await numbers.delete(db_session, caller=caller, number=number)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
