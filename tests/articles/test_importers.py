from pathlib import Path

import pytest

from articles.importers import ImportProblem, parse_file, parse_markdown, parse_text

SEED_STYLE = """Unwinding the Shoulders: A Short Guide

Shoulder tension is common in people who sit at a desk all day[1].

Why Shoulders Tighten

Long hours at a screen pull the head forward, and the muscles work hard to hold it[1][2].

Gentle Help

A regular massage may ease the stiffness. Stretching between sessions helps too.


Looking after your shoulders is a small habit with a big return.
"""


def test_plain_text_title_headings_and_paragraphs():
    parsed = parse_text(SEED_STYLE)
    assert parsed.title == "Unwinding the Shoulders: A Short Guide"
    assert parsed.slug == "unwinding-the-shoulders-a-short-guide"
    assert "## Why Shoulders Tighten" in parsed.body
    assert "## Gentle Help" in parsed.body
    # A sentence ending with a full stop is a paragraph, never a heading.
    assert "## Looking after" not in parsed.body
    assert parsed.summary.startswith("Shoulder tension is common")
    assert "[1]" not in parsed.summary


def test_plain_text_markers_without_references_are_reported():
    parsed = parse_text(SEED_STYLE)
    assert parsed.references == []
    assert any("[1], [2]" in w for w in parsed.warnings)


def test_plain_text_references_section_is_parsed_and_removed_from_body():
    text = SEED_STYLE + (
        "\nReferences\n\n"
        "[1] Posture and neck pain, a review https://example.org/posture\n"
        "2. Desk work and muscles — https://example.org/desk\n"
    )
    parsed = parse_text(text)
    assert parsed.references == [
        (1, "Posture and neck pain, a review", "https://example.org/posture"),
        (2, "Desk work and muscles", "https://example.org/desk"),
    ]
    assert "References" not in parsed.body
    assert parsed.warnings == []


def test_plain_text_that_starts_with_a_paragraph_takes_the_first_sentence_as_title():
    text = (
        "Are you looking for relief from back pain? Many people are, and massage can help a lot "
        "more than you might think when it is part of a routine that includes movement and rest.\n\n"
        "Stress Relief\n\nMassage lowers stress."
    )
    parsed = parse_text(text)
    assert parsed.title == "Are you looking for relief from back pain?"
    assert parsed.body.startswith("Are you looking")
    assert parsed.warnings


def test_plain_text_markdown_characters_stay_literal():
    parsed = parse_text("Title\n\nUse 2*3 and <b>bold</b> here.")
    assert "2\\*3" in parsed.body and "\\<b\\>" in parsed.body


def test_markdown_front_matter():
    text = (
        "---\ntitle: Sleep: a guide\nslug: sleep-guide\nsummary: Short.\ntopics: Sleep, Stress\n"
        "author: Ana\n---\nIntro [1].\n\n## Part\n\nMore.\n\n## References\n\n"
        "1. [A sleep study](https://example.org/sleep)\n"
    )
    parsed = parse_markdown(text)
    assert parsed.title == "Sleep: a guide"
    assert parsed.slug == "sleep-guide"
    assert parsed.topics == ["Sleep", "Stress"]
    assert parsed.author == "Ana"
    assert parsed.references == [(1, "A sleep study", "https://example.org/sleep")]
    assert "## References" not in parsed.body


def test_markdown_title_from_first_heading():
    parsed = parse_markdown("# Neck pain\n\nSome text here.")
    assert parsed.title == "Neck pain"
    assert parsed.body.strip() == "Some text here."


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"\n\n   \n", "empty"),
        ("latin1.txt", "Caf\u00e9 title\n\nText".encode("latin-1"), "UTF-8"),
        ("binary.txt", b"Title\x00\x01\x02", "binary"),
        ("notes.docx", b"Title\n\nText", "unsupported"),
        ("only-title.txt", b"Just a title", "no text"),
        ("untitled.md", b"Some paragraph without a heading.", "no title"),
        ("open.md", b"---\ntitle: X\n", "never ends"),
    ],
)
def test_bad_files_raise_a_clear_problem(tmp_path: Path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportProblem, match=message):
        parse_file(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(ImportProblem, match="not found"):
        parse_file(tmp_path / "nope.txt")
