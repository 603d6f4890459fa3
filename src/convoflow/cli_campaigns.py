"""``convoflow campaigns ...`` and ``convoflow templates sync``: campaigns from the shell.

Each command acts as one platform user (``--user``, default: the default owner) on the
configured database, through the same services as ``/api/campaigns``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from convoflow.errors import ConvoflowError, GraphError, SettingsError
from convoflow.runtime import Runtime
from convoflow.services.campaigns import audience, lifecycle, recipients
from convoflow.services.campaigns.template_sync import sync_templates
from convoflow.settings import get_settings
from convoflow.store import accounts
from convoflow.store.migrate import upgrade
from convoflow.store.paging import PageRequest

__all__ = ["campaigns_app", "templates_app"]

campaigns_app = typer.Typer(help="Campaigns: approved templates sent to an audience.")
templates_app = typer.Typer(help="WhatsApp message templates.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)
T = TypeVar("T")
User = Annotated[str | None, typer.Option("--user", help="Platform user (default owner).")]


def _run(user: str | None, work: Callable[[Runtime, str], Awaitable[T]]) -> T:
    """Run ``work(runtime, owner_id)``; errors become one line and exit 1."""
    try:
        settings = get_settings()
    except SettingsError as problem:
        errors.print(f"[red]configuration error:[/red] {problem}", highlight=False)
        raise typer.Exit(2) from None
    upgrade(settings.database_url)

    async def main() -> T:
        runtime = Runtime.build(settings)
        try:
            async with runtime.db_sessions() as db_session:
                owner = await accounts.get_user(db_session, user or settings.default_owner)
            return await work(runtime, owner.id)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except (ConvoflowError, GraphError) as problem:
        errors.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@templates_app.command("sync")
def templates_sync(user: User = None) -> None:
    """Copy the templates of the user's WABAs from the Graph API."""

    async def work(runtime: Runtime, owner_id: str) -> None:
        report = await sync_templates(
            runtime.db_sessions,
            runtime.graph,
            runtime.access_tokens,
            owner_id=owner_id,
            default_waba_id=runtime.settings.whatsapp_business_account_id,
            now=runtime.clock.now(),
        )
        console.print(
            f"synced {report.synced} templates from {', '.join(report.wabas) or 'no WABA'}"
            f" ({report.removed} removed)",
            highlight=False,
        )
        for problem in report.errors:
            errors.print(f"[yellow]{problem}[/yellow]", highlight=False)

    _run(user, work)


def _parameters(values: list[str]) -> dict[str, list[str]]:
    mapping: dict[str, list[str]] = {}
    for value in values:
        component, separator, text = value.partition("=")
        if not separator:
            raise typer.BadParameter(
                f"{value!r}: use COMPONENT=TEXT, e.g. body={{{{contact.name}}}}"
            )
        mapping.setdefault(component, []).append(text)
    return mapping


@campaigns_app.command("create")
def campaigns_create(
    name: str,
    template: Annotated[str, typer.Option(help="Approved template name.")],
    language: Annotated[str, typer.Option(help="Template language.")] = "en_US",
    param: Annotated[
        list[str] | None, typer.Option(help="COMPONENT=TEXT, in placeholder order; repeat.")
    ] = None,
    reply_template: Annotated[str | None, typer.Option(help="Template a reply starts.")] = None,
    user: User = None,
) -> None:
    """Create a draft campaign; prints its id."""
    draft = lifecycle.CampaignDraft(
        name=name,
        template_name=template,
        template_language=language,
        parameters=_parameters(param or []),
        reply_template=reply_template,
    )

    async def work(runtime: Runtime, owner_id: str) -> str:
        async with runtime.db_sessions() as db_session:
            made = await lifecycle.create_campaign(
                db_session, owner_id=owner_id, draft=draft, now=runtime.clock.now()
            )
        return made.id

    console.print(_run(user, work), highlight=False)


@campaigns_app.command("audience")
def campaigns_audience(
    campaign_id: str,
    csv: Annotated[Path | None, typer.Option(help="CSV file with a phone column.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Contacts with any of these tags.")] = None,
    user_type: Annotated[list[str] | None, typer.Option(help="Contacts of these types.")] = None,
    user: User = None,
) -> None:
    """Set the recipients from a CSV file or from contact filters."""

    async def work(runtime: Runtime, owner_id: str) -> recipients.AudienceReport:
        description: dict[str, object]
        if csv is not None:
            chosen, description = audience.from_csv(csv.read_text("utf-8")), {"source": "csv"}
        else:
            filters = audience.ContactFilters(
                tags=tuple(tag or ()), user_types=tuple(user_type or ())
            )
            async with runtime.db_sessions() as db_session, db_session.begin():
                chosen = await audience.from_contacts(db_session, owner_id, filters)
            description = {"source": "filters", "tags": tag or [], "user_types": user_type or []}
        async with runtime.db_sessions() as db_session:
            return await recipients.set_audience(
                db_session,
                owner_id=owner_id,
                campaign_id=campaign_id,
                audience=chosen,
                description=description,
                now=runtime.clock.now(),
            )

    report = _run(user, work)
    console.print(
        f"{report.recipients} recipients; {report.rejected} rejected, "
        f"{report.duplicates} duplicates, {report.opted_out} opted out",
        highlight=False,
    )
    for row in report.rejected_rows:
        console.print(f"  row {row['row']}: {row['value']!r}: {row['reason']}", highlight=False)


@campaigns_app.command("preview")
def campaigns_preview(
    campaign_id: str,
    recipient: Annotated[str | None, typer.Option(help="A recipient's number.")] = None,
    user: User = None,
) -> None:
    """Print the message one recipient would get."""

    async def work(runtime: Runtime, owner_id: str) -> tuple[str, dict[str, object]]:
        async with runtime.db_sessions() as db_session:
            return await recipients.preview(
                db_session, owner_id=owner_id, campaign_id=campaign_id, customer_key=recipient
            )

    key, message = _run(user, work)
    console.print(f"to {key}:", highlight=False)
    print(json.dumps(message, indent=2, ensure_ascii=False))


@campaigns_app.command("schedule")
def campaigns_schedule(
    campaign_id: str,
    at: Annotated[datetime | None, typer.Option(help="Start time (default: now).")] = None,
    timezone: Annotated[str, typer.Option(help="Timezone of --at and the window.")] = "UTC",
    window: Annotated[str | None, typer.Option(help="Daily window, e.g. 09:00-20:00.")] = None,
    recipient_timezone: Annotated[
        bool, typer.Option(help="Apply the window in each recipient's timezone.")
    ] = False,
    max_mps: Annotated[float, typer.Option(help="Messages per second at most.")] = 10.0,
    user: User = None,
) -> None:
    """Schedule the campaign."""
    start, _, end = (window or "").partition("-")
    plan = lifecycle.Schedule(
        start_at=at,
        timezone=timezone,
        window_start=start or None,
        window_end=end or None,
        window_timezone="recipient" if recipient_timezone else "campaign",
        max_mps=max_mps,
    )

    async def work(runtime: Runtime, owner_id: str) -> str:
        async with runtime.db_sessions() as db_session:
            done = await lifecycle.schedule(
                db_session,
                owner_id=owner_id,
                campaign_id=campaign_id,
                plan=plan,
                now=runtime.clock.now(),
            )
        return f"{done.id} {done.status} from {done.start_at:%Y-%m-%d %H:%M} UTC"

    console.print(_run(user, work), highlight=False)


def _change(action: str, campaign_id: str, user: str | None) -> None:
    async def work(runtime: Runtime, owner_id: str) -> str:
        now = runtime.clock.now()
        async with runtime.db_sessions() as db_session:
            if action == "pause":
                done = await lifecycle.pause(
                    db_session,
                    owner_id=owner_id,
                    campaign_id=campaign_id,
                    reason="paused from the CLI",
                    now=now,
                )
            elif action == "resume":
                done = await lifecycle.resume(
                    db_session, owner_id=owner_id, campaign_id=campaign_id, now=now
                )
            else:
                done = await lifecycle.cancel(
                    db_session, owner_id=owner_id, campaign_id=campaign_id, now=now
                )
        return f"{done.id} {done.status}"

    console.print(_run(user, work), highlight=False)


@campaigns_app.command("pause")
def campaigns_pause(campaign_id: str, user: User = None) -> None:
    """Pause sending (queued messages are taken back)."""
    _change("pause", campaign_id, user)


@campaigns_app.command("resume")
def campaigns_resume(campaign_id: str, user: User = None) -> None:
    """Resume a paused campaign."""
    _change("resume", campaign_id, user)


@campaigns_app.command("cancel")
def campaigns_cancel(campaign_id: str, user: User = None) -> None:
    """Cancel the campaign."""
    _change("cancel", campaign_id, user)


@campaigns_app.command("list")
def campaigns_list(user: User = None) -> None:
    """The user's campaigns, newest first."""

    async def work(runtime: Runtime, owner_id: str) -> Table:
        async with runtime.db_sessions() as db_session:
            rows, _ = await lifecycle.list_campaigns(
                db_session, owner_id=owner_id, page=PageRequest(limit=200)
            )
        table = Table("id", "name", "status", "template", "recipients")
        for row in rows:
            table.add_row(
                row.id,
                row.name,
                row.status + (f" ({row.paused_reason})" if row.paused_reason else ""),
                f"{row.template_name} ({row.template_language})",
                str(row.audience.get("recipients", 0)),
            )
        return table

    console.print(_run(user, work))


@campaigns_app.command("show")
def campaigns_show(campaign_id: str, user: User = None) -> None:
    """The campaign's status and funnel."""

    async def work(runtime: Runtime, owner_id: str) -> str:
        async with runtime.db_sessions() as db_session:
            row, funnel = await lifecycle.get_campaign(
                db_session, owner_id=owner_id, campaign_id=campaign_id
            )
        lines = [
            f"{row.name} ({row.id}): {row.status}"
            + (f" — {row.paused_reason}" if row.paused_reason else ""),
            f"targeted {funnel.targeted} → sent {funnel.sent} → delivered {funnel.delivered}"
            f" → read {funnel.read} → replied {funnel.replied}; opted out {funnel.opted_out}",
            "by status: " + ", ".join(f"{k} {v}" for k, v in sorted(funnel.by_status.items())),
        ]
        if funnel.failures:
            lines.append("failures: " + ", ".join(f"{k} {v}" for k, v in funnel.failures.items()))
        return "\n".join(lines)

    console.print(_run(user, work), highlight=False)
