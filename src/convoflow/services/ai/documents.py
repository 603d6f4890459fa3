"""Uploaded files as knowledge-base text: plain text, Markdown, HTML and PDF.

A file's kind comes from its content type, else from its name's suffix; text files must
be UTF-8, and a PDF gives the text of its pages (pypdf), one paragraph break between
pages. Anything else is refused with the reason, and nothing is stored.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import PurePosixPath

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from convoflow.errors import InvalidData

__all__ = ["MAX_FILE_BYTES", "PDF", "TEXT_TYPES", "file_kind", "file_text"]

TEXT_TYPES = ("text/plain", "text/markdown", "text/html")
PDF = "application/pdf"
#: The largest file accepted (a PDF's text is far smaller than the file).
MAX_FILE_BYTES = 20 * 1024 * 1024
_BY_SUFFIX = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": PDF,
}


def file_kind(content_type: str, filename: str = "", *, field: str = "file") -> str:
    """The document kind of a file: its content type when it names one we read, else the
    kind its name's suffix tells (a browser often sends ``application/octet-stream``)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in TEXT_TYPES or kind == PDF:
        return kind
    by_name = _BY_SUFFIX.get(PurePosixPath(filename).suffix.lower())
    if by_name is not None:
        return by_name
    raise InvalidData(
        field,
        "must be text, Markdown, HTML or PDF (text/plain, text/markdown, text/html, "
        "application/pdf; or a .txt, .md, .html or .pdf file)",
    )


def file_text(raw: bytes, kind: str, *, field: str = "file") -> str:
    """The text of a file of ``kind`` (see :func:`file_kind`)."""
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidData(field, f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if kind == PDF:
        return _pdf_text(raw, field)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidData(field, "must be UTF-8 text") from None


def _pdf_text(raw: bytes, field: str) -> str:
    try:
        pages = [page.extract_text() or "" for page in PdfReader(BytesIO(raw)).pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        # pypdf raises its own errors and, on damaged files, some builtin ones.
        raise InvalidData(field, f"is not a readable PDF ({exc})") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise InvalidData(field, "the PDF has no text (a scanned PDF needs OCR first)")
    return text
