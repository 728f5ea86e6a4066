"""Article bodies: Markdown in, safe HTML out.

Staff write Markdown; visitors get HTML that nh3 has cleaned, so a pasted <script>,
an onclick or a javascript: link never reaches a browser. Citation markers such as
``[1]`` become links to the matching reference at the foot of the article.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from functools import lru_cache

import markdown
import nh3
from markdown.inlinepatterns import InlineProcessor
from markdown.util import AtomicString

# A marker is a bracketed number that is not the start of a Markdown link: "[2]" but
# not "[2](...)" nor a "[2]: url" definition.
CITATION_PATTERN = r"\[(\d{1,3})\](?![(:])"
CITATION_RE = re.compile(CITATION_PATTERN)

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "i",
    "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id", "class", "aria-label"},
    "sup": {"class", "id"},
    "abbr": {"title"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto", "tel"}


class _CitationProcessor(InlineProcessor):
    def __init__(self, pattern: str, known: frozenset[int]) -> None:
        super().__init__(pattern)
        self.known = known
        self.seen: dict[int, int] = {}

    def handleMatch(self, m, data):  # noqa: N802 (Markdown's API)
        number = int(m.group(1))
        if number not in self.known:
            # No such reference: leave the text alone rather than link to nothing.
            return None, None, None
        self.seen[number] = self.seen.get(number, 0) + 1
        sup = etree.Element("sup", {"class": "citation"})
        link = etree.SubElement(
            sup,
            "a",
            {
                "href": f"#ref-{number}",
                "id": f"cite-{number}-{self.seen[number]}",
                "aria-label": f"Reference {number}",
            },
        )
        # Atomic, or the marker inside the link would be matched again, forever.
        link.text = AtomicString(f"[{number}]")
        return sup, m.start(0), m.end(0)


class _CitationExtension(markdown.Extension):
    def __init__(self, known: frozenset[int]) -> None:
        super().__init__()
        self.known = known

    def extendMarkdown(self, md):  # noqa: N802 (Markdown's API)
        # Below Markdown's own reference links (priority 170 and 130), so a defined
        # "[1]: https://..." keeps working, and above plain text.
        md.inlinePatterns.register(_CitationProcessor(CITATION_PATTERN, self.known), "cite", 128)


@lru_cache(maxsize=512)
def render_markdown(body: str, reference_numbers: frozenset[int] = frozenset()) -> str:
    """Render an article body to sanitised HTML; cached, as bodies rarely change."""
    html = markdown.markdown(
        body,
        extensions=["extra", "sane_lists", _CitationExtension(reference_numbers)],
        output_format="html",
    )
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def cited_numbers(body: str) -> set[int]:
    """The reference numbers that a body cites."""
    return {int(n) for n in CITATION_RE.findall(body)}


def word_count(body: str) -> int:
    return len(body.split())
