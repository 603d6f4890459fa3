"""The ``convoflow`` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from convoflow.cli_campaigns import campaigns_app, templates_app
from convoflow.errors import RequestError, SettingsError
from convoflow.log_format import configure_logging
from convoflow.readiness import require_services, without_credentials
from convoflow.runtime import Runtime
from convoflow.settings import Settings, get_settings
from convoflow.store import migrate

if TYPE_CHECKING:
    from convoflow.services.access.setup import SeedReport

app = typer.Typer(help="convoflow: WhatsApp conversation workflows.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Platform users.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(campaigns_app, name="campaigns")
app.add_typer(templates_app, name="templates")

console = Console()
errors = Console(stderr=True)
logger = logging.getLogger("convoflow")
T = TypeVar("T")


def settings_or_exit() -> Settings:
    """The settings, or exit with the one-line reason."""
    try:
        return get_settings()
    except SettingsError as exc:
        errors.print(f"[red]configuration error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def run_with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run ``work`` with a runtime on the configured database, turning data errors into exit 1."""
    settings = settings_or_exit()

    async def main() -> T:
        runtime = Runtime.build(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except RequestError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def announce(settings: Settings, message: str) -> None:
    """Say what a long-running command is doing: a log record with JSON logs, else a line."""
    if settings.log_format == "json":
        logger.info(message)
    else:
        console.print(message, highlight=False, soft_wrap=True)


def prepare_database(settings: Settings, *, needs_redis: bool = False) -> None:
    """Check the database (and Redis when ``needs_redis``) answers, then apply migrations.

    An unreachable service stops the command with one line naming its setting.
    """
    try:
        asyncio.run(require_services(settings, redis=needs_redis))
    except SettingsError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    migrate.upgrade(settings.database_url)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run the server: migrations are applied and built-in templates seeded first."""
    import uvicorn

    settings = settings_or_exit()
    log_config = configure_logging(settings.log_level, settings.log_format)
    prepare_database(settings, needs_redis=True)
    seed_report = run_with_runtime(lambda runtime: _seed(runtime, settings))
    database = without_credentials(settings.database_url)
    metrics = f"; metrics on http://{host}:{port}/metrics" if settings.metrics else ""
    announce(
        settings,
        f"convoflow on http://{host}:{port} (database {database}; "
        f"{len(seed_report.created)} built-in templates created{metrics})",
    )
    setup_token = run_with_runtime(lambda runtime: _setup_token(runtime, settings))
    if setup_token is not None:
        # The link alone on its line, to copy (one log record with JSON logs).
        announce(
            settings,
            f"first run: set the password of {settings.default_owner} (valid until used) at\n"
            f"http://{host}:{port}/setup?token={setup_token}",
        )
    uvicorn.run(
        "convoflow.api.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config,
        log_level=settings.log_level.lower(),
    )


async def _setup_token(runtime: Runtime, settings: Settings) -> str | None:
    """A new first-run setup token while the default owner has no password."""
    from convoflow.services.access.first_run import issue_setup_token

    return await issue_setup_token(
        runtime.db_sessions, owner_name=settings.default_owner, now=runtime.clock.now()
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Jobs run at once in this process.")] = 10,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this process's Prometheus metrics on this port (/metrics)."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Interface the metrics port listens on.")
    ] = "127.0.0.1",
) -> None:
    """Run background jobs from Redis: sending, effects and the sweeper (needs Redis)."""
    from convoflow.jobs.worker import run_worker

    settings = settings_or_exit()
    if not settings.redis_url:
        errors.print(
            "[red]configuration error:[/red] convoflow worker needs CONVOFLOW_REDIS_URL "
            "(without Redis, `convoflow serve` runs the jobs itself)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    configure_logging(settings.log_level, settings.log_format)
    prepare_database(settings, needs_redis=True)
    announce(settings, f"convoflow worker on {without_credentials(settings.database_url)}")
    work = run_worker(
        settings,
        build=Runtime.build,
        concurrency=concurrency,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        freeze_heap=True,
    )
    try:
        _run_fast(work)
    except SettingsError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


async def _seed(runtime: Runtime, settings: Settings, *, with_number: bool = True) -> SeedReport:
    """Seed the default owner, with the settings' business number unless told not to."""
    from convoflow.services.access.setup import seed

    return await seed(
        runtime.db_sessions,
        owner_name=settings.default_owner,
        phone_number_id=settings.whatsapp_phone_number_id if with_number else "",
        waba_id=settings.whatsapp_business_account_id,
    )


@app.command("seed")
def seed_command() -> None:
    """Create the default owner and store the built-in templates (idempotent)."""
    settings = settings_or_exit()
    prepare_database(settings)
    report = run_with_runtime(lambda runtime: _seed(runtime, settings))
    print_seed_report(report, settings.default_owner)


def print_seed_report(report: SeedReport, owner: str) -> None:
    """Say what the seed created, updated and left alone."""
    if report.owner_created:
        console.print(f"created owner {owner}")
    for label, names in (
        ("created", report.created),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
    ):
        for name in names:
            console.print(f"{label}: {name}", highlight=False)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = settings_or_exit()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target, e.g. base.")) -> None:
    """Revert migrations down to REVISION."""
    settings = settings_or_exit()
    migrate.downgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@db_app.command("sql")
def db_sql() -> None:
    """Print the full DDL for the configured database (to apply with psql)."""
    settings = settings_or_exit()
    sys.stdout.write(migrate.offline_sql(settings.database_url))


@users_app.command("create")
def users_create(
    name: str,
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help="Ask for a password to sign in to the web app with (read from stdin when piped).",
        ),
    ] = False,
    admin: Annotated[
        bool, typer.Option("--admin", help="The user may create users and set passwords.")
    ] = False,
) -> None:
    """Create a platform user; the new API key is printed alone on the last line."""
    from convoflow.services.access.setup import create_user_with_key

    settings = settings_or_exit()
    secret = read_new_password() if password else None
    prepare_database(settings)
    key = run_with_runtime(
        lambda runtime: create_user_with_key(
            runtime.db_sessions, username=name, password=secret, is_admin=admin
        )
    )
    console.print(f"created user {name}; its API key (shown once):", highlight=False)
    print(key)


@users_app.command("set-password")
def users_set_password(name: str) -> None:
    """Set NAME's password for the web app (asked for, or read from stdin when piped); it
    signs them out everywhere."""
    from convoflow.services.access.users import set_password

    settings = settings_or_exit()
    secret = read_new_password()
    prepare_database(settings)
    run_with_runtime(
        lambda runtime: set_password(runtime.db_sessions, username=name, password=secret)
    )
    console.print(f"password of {name} set", highlight=False)


def read_new_password() -> str:
    """A new password: asked for twice, hidden, on a terminal; the first line of stdin
    when piped. One that breaks the policy stops the command (exit 1)."""
    from convoflow.services.access.passwords import check_password_policy

    if sys.stdin.isatty():
        secret: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    try:
        check_password_policy(secret)
    except RequestError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    return secret


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="Existing user name.")],
    label: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
) -> None:
    """Create another API key for USER; printed alone on the last line."""
    from convoflow.services.access.setup import create_key

    settings = settings_or_exit()
    prepare_database(settings)
    key = run_with_runtime(
        lambda runtime: create_key(runtime.db_sessions, username=user, label=label)
    )
    console.print(f"new API key for {user} (shown once):", highlight=False)
    print(key)


@keys_app.command("list")
def keys_list(user: Annotated[str, typer.Option("--user", help="Existing user name.")]) -> None:
    """List USER's API keys, newest first: id, prefix, label, dates (never the keys)."""
    from convoflow.cli_keys import key_table
    from convoflow.services.access.keys import keys_of_user

    settings = settings_or_exit()
    prepare_database(settings)
    rows = run_with_runtime(lambda runtime: keys_of_user(runtime.db_sessions, username=user))
    if not rows:
        console.print(f"{user} has no API keys", highlight=False)
        return
    console.print(key_table(rows, title=f"API keys of {user}"))


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see keys list).")],
) -> None:
    """Revoke an API key by its id: requests with it answer 401 from now on."""
    from convoflow.cli_keys import describe_revocation
    from convoflow.services.access.keys import revoke_any_key

    settings = settings_or_exit()
    prepare_database(settings)
    revocation = run_with_runtime(
        lambda runtime: revoke_any_key(runtime.db_sessions, key_id=key_id, now=runtime.clock.now())
    )
    console.print(describe_revocation(revocation), highlight=False, markup=False, soft_wrap=True)


@app.command()
def cleanup() -> None:
    """Delete expired conversation states and report how many."""
    from convoflow.services.access.setup import delete_expired_states

    settings_or_exit()
    removed = run_with_runtime(
        lambda runtime: delete_expired_states(
            runtime.db_sessions, runtime.store, now=runtime.clock.now()
        )
    )
    console.print(f"removed {removed} expired conversation states")


@app.command()
def chat(
    phone: Annotated[str, typer.Option(help="The customer's phone number.")] = "15550000001",
    name: Annotated[str, typer.Option(help="The customer's profile name.")] = "Chat user",
    template: Annotated[str | None, typer.Option(help="Start this template directly.")] = None,
) -> None:
    """Talk to the bot as a customer in the terminal (or pipe lines in)."""
    from convoflow.channels.terminal.repl import run_chat

    settings = settings_or_exit()
    prepare_database(settings)
    run_with_runtime(lambda runtime: _seed(runtime, settings, with_number=False))
    run_with_runtime(
        lambda runtime: run_chat(
            runtime.access,
            runtime.processor,
            owner_name=settings.default_owner,
            phone=phone,
            name=name,
            template=template,
        )
    )


@app.command()
def validate(path: Annotated[str, typer.Argument(help="Template file: JSON or YAML.")]) -> None:
    """Check a template file; print `ok` and a summary, or every problem."""
    from convoflow.services.templates.files import check_template_file

    report = check_template_file(path)
    if report.ok:
        console.print(f"ok: {report.summary}", highlight=False, soft_wrap=True)
        return
    for problem in report.problems:
        console.print(problem, highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()


def _run_fast(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` on uvloop (it comes with uvicorn[standard]; ``serve`` uses it through
    uvicorn already), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a plain install without uvicorn's extras
        asyncio.run(work)
        return
    uvloop.run(work)


if __name__ == "__main__":
    main()
