"""The `convoflow chat` loop: a prompt on a terminal, or one line at a time when piped."""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console

from convoflow.channels.terminal.chat import ChatSession
from convoflow.channels.terminal.render import message_lines, render_message
from convoflow.engine.outcome import OutboundMessage
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.inbox.intake import MessageProcessor

EXIT_WORDS = frozenset({"/quit", "/exit"})


async def run_chat(
    access: ConversationAccess,
    processor: MessageProcessor,
    *,
    owner_name: str,
    phone: str,
    name: str,
    template: str | None,
) -> None:
    """Run the chat until end of input (or /quit)."""
    console = Console()
    interactive = sys.stdin.isatty()
    chat = ChatSession(access, processor, owner_name=owner_name, phone=phone, name=name)
    await chat.open()
    if interactive:
        console.print(f"[dim]Chatting as {name} ({phone}). Type /quit to leave.[/dim]")
    if template:
        show(console, await chat.start(template), interactive)
    while True:
        line = await asyncio.to_thread(_read_line, console, interactive)
        if line is None or line.strip() in EXIT_WORDS:
            return
        if not line.strip():
            continue
        if not interactive:
            console.print(f"> {line}", highlight=False, markup=False)
        show(console, await chat.say(line), interactive)


def _read_line(console: Console, interactive: bool) -> str | None:
    try:
        if interactive:
            return console.input("[bold]you>[/bold] ")
        line = sys.stdin.readline()
        return line.rstrip("\n") if line else None
    except EOFError:
        return None


def show(console: Console, messages: list[OutboundMessage], interactive: bool) -> None:
    """Print the bot's messages: bubbles on a terminal, plain `bot:` lines when piped."""
    if not messages and interactive:
        console.print("[dim](no reply)[/dim]")
    for message in messages:
        if interactive:
            console.print(render_message(message.body))
            continue
        lines = message_lines(message.body)
        console.print(f"bot: {lines[0]}", highlight=False, markup=False, soft_wrap=True)
        for line in lines[1:]:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
