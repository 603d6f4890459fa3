"""Knowledge-base documents as multipart file uploads (text, Markdown, HTML, PDF) and as
the raw body; a re-upload replaces the document's chunks, never duplicates them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from convoflow.store.models import KnowledgeChunk, KnowledgeDocument
from tests.ai.conftest import AiApp
from tests.support.pdf_files import pdf_of

HOURS_PAGES = [
    ["Opening hours", "We open Monday to Friday from 9:00 to 18:00."],
    ["Returns", "You can return any item within 30 days with the receipt."],
]


async def new_base(app: AiApp) -> str:
    created = await app.api("POST", "/api/knowledge-bases", json={"name": "faq"})
    assert created.status_code == 201, created.text
    base_id: str = created.json()["id"]
    return base_id


async def upload_file(
    app: AiApp,
    base_id: str,
    name: str,
    raw: bytes,
    content_type: str,
    **form: str,
) -> Any:
    return await app.api(
        "POST",
        f"/api/knowledge-bases/{base_id}/documents",
        files={"file": (name, raw, content_type)},
        data=form,
    )


async def stored(app: AiApp) -> tuple[list[KnowledgeDocument], list[KnowledgeChunk]]:
    async with app.runtime.db_sessions() as db_session:
        documents = list(await db_session.scalars(select(KnowledgeDocument)))
        chunks = list(
            await db_session.scalars(select(KnowledgeChunk).order_by(KnowledgeChunk.position))
        )
    return documents, chunks


async def test_text_markdown_html_and_pdf_files_are_read(ai_app: AiApp) -> None:
    app = ai_app
    base_id = await new_base(app)
    uploads = [
        ("notes.txt", b"Parking is free after 18:00.", "text/plain", "text/plain"),
        ("faq.md", b"# Delivery\n\nWe deliver in **2 days**.", "text/markdown", "text/markdown"),
        (
            "gifts.html",
            b"<html><body><h1>Gift cards</h1><p>Valid for one year &amp; more.</p></body></html>",
            "text/html",
            "text/html",
        ),
        # A browser often names a PDF only by its file name.
        ("hours.pdf", pdf_of(*HOURS_PAGES), "application/octet-stream", "application/pdf"),
    ]
    for name, raw, sent_as, kind in uploads:
        answer = await upload_file(app, base_id, name, raw, sent_as)
        assert answer.status_code == 201, answer.text
        assert answer.json()["content_type"] == kind
        assert answer.json()["title"] == name.rsplit(".", 1)[0]  # default: the file's name
    documents, chunks = await stored(app)
    by_title = {d.title: d for d in documents}
    assert set(by_title) == {"notes", "faq", "gifts", "hours"}
    texts = {c.document_id: c.text for c in chunks}
    assert texts[by_title["gifts"].id] == "Gift cards Valid for one year & more."
    pdf_text = texts[by_title["hours"].id]
    assert "We open Monday to Friday from 9:00 to 18:00." in pdf_text
    assert "within 30 days with the receipt" in pdf_text  # the second page too

    raw_pdf = await app.api(
        "POST",
        f"/api/knowledge-bases/{base_id}/documents",
        params={"title": "Hours as the body"},
        content=pdf_of(["Closed on Sundays."]),
        headers={"Content-Type": "application/pdf"},
    )
    assert raw_pdf.status_code == 201, raw_pdf.text
    assert raw_pdf.json()["characters"] == len("Closed on Sundays.")


async def test_a_re_uploaded_file_replaces_its_chunks(ai_app: AiApp) -> None:
    app = ai_app
    base_id = await new_base(app)
    raw = pdf_of(*HOURS_PAGES)
    first = await upload_file(app, base_id, "hours.pdf", raw, "application/pdf", title="Hours")
    assert first.status_code == 201 and first.json()["changed"] is True
    again = await upload_file(app, base_id, "hours.pdf", raw, "application/pdf", title="Hours")
    assert again.status_code == 201 and again.json()["changed"] is False
    documents, chunks = await stored(app)
    assert len(documents) == 1 and len(chunks) == first.json()["chunks"]

    changed = pdf_of(["Opening hours", "From May we open at 8:00."])
    newer = await upload_file(app, base_id, "hours.pdf", changed, "application/pdf", title="Hours")
    assert newer.status_code == 201 and newer.json()["changed"] is True
    documents, chunks = await stored(app)
    assert [d.title for d in documents] == ["Hours"]
    assert [c.text for c in chunks] == ["Opening hours\nFrom May we open at 8:00."]
    assert documents[0].content_hash != first.json()["content_hash"]


async def test_unreadable_files_are_refused_and_nothing_is_stored(ai_app: AiApp) -> None:
    app = ai_app
    base_id = await new_base(app)
    cases = [
        ("report.pdf", b"%PDF-1.4 this is not really a PDF", "application/pdf", "not a readable"),
        ("blank.pdf", pdf_of([]), "application/pdf", "has no text"),
        ("tool.exe", b"MZ\x90\x00", "application/octet-stream", "must be text, Markdown"),
        ("latin.txt", "café".encode("latin-1"), "text/plain", "UTF-8"),
    ]
    for name, raw, content_type, reason in cases:
        answer = await upload_file(app, base_id, name, raw, content_type)
        assert answer.status_code == 422, (name, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_error"
        assert reason in str(error), (name, error)
    no_file = await app.api(  # a multipart form with a title and no file
        "POST", f"/api/knowledge-bases/{base_id}/documents", files={"title": (None, "x")}
    )
    assert no_file.status_code == 422
    assert "is required" in no_file.json()["error"]["message"]
    assert await stored(app) == ([], [])
