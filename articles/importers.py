"""Reading the clinic's existing articles from plain-text and Markdown files.

Plain text (``.txt``), as the clinic has always written them:

- the first line is the title;
- blocks are separated by blank lines;
- a short single line with no final full stop is a section heading;
- everything else is a paragraph; ``[n]`` markers cite references;
- an optional last section headed "References" or "Sources" lists them, one a line,
  as ``[1] Title https://…`` or ``1. Title https://…``.

Markdown (``.md``): optional front matter between ``---`` lines with ``title``, ``slug``,
``summary``, ``topics`` and ``techniques`` (comma-separated; technique slugs),
``author``; without it the first ``# `` heading
is the title. A "## References" section is read as above (``1. [Title](https://…)`` too).

Parsing is pure: text in, :class:`ParsedArticle` out, or :class:`ImportProblem`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.text import slugify

MAX_HEADING_LENGTH = 80
MAX_TITLE_LENGTH = 150
SUMMARY_LENGTH = 200
REFERENCE_HEADINGS = {"references", "sources", "bibliography"}
_REFERENCE_LINE = re.compile(r"^\s*(?:\[(?P<n1>\d{1,3})\]|(?P<n2>\d{1,3})[.)])\s*(?P<rest>.+?)\s*$")
_MARKDOWN_LINK = re.compile(r"^\[(?P<title>.+)\]\((?P<url>https?://[^\s)]+)\)\s*\.?$")
_TRAILING_URL = re.compile(r"^(?P<title>.*?)[\s—–-]*(?P<url>https?://\S+?)[.,]?$")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s")


class ImportProblem(Exception):
    """A file that cannot be imported, with a reason a person can act on."""


@dataclass
class ParsedArticle:
    title: str
    body: str
    summary: str
    slug: str
    topics: list[str] = field(default_factory=list)
    techniques: list[str] = field(default_factory=list)
    author: str = ""
    references: list[tuple[int, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_file(path: Path) -> ParsedArticle:
    """Read and parse one file, choosing the format by its extension."""
    suffix = path.suffix.lower()
    if suffix not in {".txt", ".md", ".markdown"}:
        raise ImportProblem(f"unsupported file type {suffix or '(none)'!r}: use .txt or .md")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportProblem("file not found") from None
    except IsADirectoryError:
        raise ImportProblem("is a folder, not a file") from None
    except OSError as exc:
        raise ImportProblem(f"cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"is not UTF-8 text (bad byte at position {exc.start})") from None
    if "\x00" in text:
        raise ImportProblem("looks like a binary file, not text")
    if suffix == ".txt":
        return parse_text(text)
    return parse_markdown(text)


def _blocks(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]


def _is_heading(block: str) -> bool:
    return (
        "\n" not in block
        and len(block) <= MAX_HEADING_LENGTH
        and not block.endswith((".", "!", "?", ":", ";", ","))
        and not block.startswith(("-", "*", "["))
    )


def _parse_reference(line: str) -> tuple[int, str, str] | None:
    match = _REFERENCE_LINE.match(line)
    if not match:
        return None
    number = int(match.group("n1") or match.group("n2"))
    rest = match.group("rest").strip()
    if link := _MARKDOWN_LINK.match(rest):
        return number, link.group("title").strip(), link.group("url")
    if url := _TRAILING_URL.match(rest):
        title = url.group("title").strip(" —–-:") or url.group("url")
        return number, title, url.group("url")
    return number, rest, ""


def _split_references(blocks: list[str], heading_of) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Take a trailing References section off the blocks and parse its lines."""
    for index, block in enumerate(blocks):
        if heading_of(block).lower().rstrip(":") in REFERENCE_HEADINGS:
            references = []
            for rest in blocks[index + 1 :]:
                for line in rest.splitlines():
                    if line.strip() and (ref := _parse_reference(line)):
                        references.append(ref)
            return blocks[:index], references
    return blocks, []


def _truncate(text: str, limit: int) -> str:
    """Cut at a word boundary, with an ellipsis, when longer than limit."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return f"{cut}…"


def _summary_from(paragraphs: list[str]) -> str:
    for paragraph in paragraphs:
        plain = re.sub(r"\[\d{1,3}\]", "", paragraph)
        plain = re.sub(r"[*_`#>]", "", plain).strip()
        if plain:
            return _truncate(" ".join(plain.split()), SUMMARY_LENGTH)
    return ""


def _check_references(parsed: ParsedArticle) -> None:
    from .markdown import cited_numbers

    known = {n for n, _, _ in parsed.references}
    missing = sorted(cited_numbers(parsed.body) - known)
    if missing:
        listed = ", ".join(f"[{n}]" for n in missing)
        parsed.warnings.append(f"cites {listed} with no matching reference; add them in the admin")


def parse_text(text: str) -> ParsedArticle:
    """Parse the clinic's plain-text article format."""
    blocks = _blocks(text)
    if not blocks:
        raise ImportProblem("is empty")
    warnings: list[str] = []
    first = blocks[0]
    first_line, _, rest_of_first = first.partition("\n")
    if len(first_line) <= MAX_TITLE_LENGTH and not first_line.endswith("."):
        title = first_line.strip()
        blocks = ([rest_of_first.strip()] if rest_of_first.strip() else []) + blocks[1:]
    else:
        # Some older files start straight with a paragraph: take its first sentence
        # as the title when it is short enough, and keep the paragraph in the body.
        sentence = _SENTENCE_END.split(first_line, maxsplit=1)[0].strip()
        if len(sentence) > MAX_TITLE_LENGTH:
            raise ImportProblem("has no title: the first line should be the title (a short line of its own)")
        title = sentence.rstrip(".")
        warnings.append(f"no title line; used the first sentence: {title!r}")
    blocks, references = _split_references(blocks, lambda b: b if _is_heading(b) else "")
    if not blocks:
        raise ImportProblem("has a title but no text")
    parts: list[str] = []
    paragraphs: list[str] = []
    for block in blocks:
        if _is_heading(block):
            parts.append(f"## {block}")
        else:
            paragraph = " ".join(line.strip() for line in block.splitlines())
            # Keep the text literal: the old files are prose, not Markdown.
            paragraph = re.sub(r"([\\`*_<>])", r"\\\1", paragraph)
            parts.append(paragraph)
            paragraphs.append(paragraph)
    parsed = ParsedArticle(
        title=title[:200],
        body="\n\n".join(parts) + "\n",
        summary=_summary_from(paragraphs),
        slug=slugify(title)[:200],
        references=references,
        warnings=warnings,
    )
    _check_references(parsed)
    return parsed


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            meta: dict[str, str] = {}
            for entry in lines[1:end]:
                if entry.strip() and not entry.lstrip().startswith("#"):
                    key, sep, value = entry.partition(":")
                    if not sep:
                        raise ImportProblem(f"front matter line {entry.strip()!r} has no 'key: value'")
                    meta[key.strip().lower()] = value.strip()
            return meta, "\n".join(lines[end + 1 :])
    raise ImportProblem("front matter starts with '---' but never ends")


def parse_markdown(text: str) -> ParsedArticle:
    """Parse a Markdown article, with or without front matter."""
    meta, body = _front_matter(text)
    blocks = _blocks(body)
    title = meta.get("title", "")
    if not title:
        if blocks and blocks[0].startswith("# "):
            first, _, rest = blocks[0].partition("\n")
            title = first[2:].strip()
            blocks = ([rest.strip()] if rest.strip() else []) + blocks[1:]
        else:
            raise ImportProblem("has no title: add 'title:' front matter or a first '# Title' line")
    blocks, references = _split_references(
        blocks, lambda b: b.lstrip("#").strip() if b.startswith("#") and "\n" not in b else ""
    )
    if not blocks:
        raise ImportProblem("has a title but no text")
    paragraphs = [b for b in blocks if not b.startswith(("#", "-", "*", ">", "|"))]
    parsed = ParsedArticle(
        title=title[:200],
        body="\n\n".join(blocks) + "\n",
        summary=meta.get("summary", "")[:300] or _summary_from(paragraphs),
        slug=slugify(meta.get("slug", "") or title)[:200],
        topics=[t.strip() for t in meta.get("topics", "").split(",") if t.strip()],
        techniques=[t.strip().lower() for t in meta.get("techniques", "").split(",") if t.strip()],
        author=meta.get("author", ""),
        references=references,
    )
    if not parsed.slug:
        raise ImportProblem("has a title that makes no usable web address (slug)")
    _check_references(parsed)
    return parsed
