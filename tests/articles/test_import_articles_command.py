from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from articles.choices import ArticleStatus
from articles.models import Article

pytestmark = pytest.mark.django_db

TEXT = """Easing Tension in the Back

Tight back muscles are common[1].

Why It Happens

Sitting still for long hours is a large part of it.
"""
MARKDOWN = """---
title: Sleep and massage
topics: Sleep
---
A calm body sleeps better [1].

## References

1. [A sleep study](https://example.org/sleep)
"""


def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("import_articles", *args, stdout=out, stderr=err)
        error = None
    except CommandError as exc:
        error = exc
    return out.getvalue(), err.getvalue(), error


def test_imports_text_and_markdown_as_drafts_and_reports(tmp_path: Path):
    (tmp_path / "back.txt").write_text(TEXT)
    (tmp_path / "sleep.md").write_text(MARKDOWN)
    out, err, error = run(str(tmp_path / "back.txt"), str(tmp_path / "sleep.md"))
    assert error is None, err
    assert "back.txt: created (draft)" in out
    assert "sleep.md: created (draft)" in out
    assert "2 of 2 file(s) imported." in out
    assert "cites [1] with no matching reference" in out
    assert set(Article.objects.values_list("status", flat=True)) == {ArticleStatus.DRAFT}
    sleep = Article.objects.get(slug="sleep-and-massage")
    assert sleep.references.get().title == "A sleep study"


def test_importing_again_is_idempotent(tmp_path: Path):
    path = tmp_path / "back.txt"
    path.write_text(TEXT)
    run(str(path))
    out, _, _ = run(str(path))
    assert "unchanged" in out
    path.write_text(TEXT.replace("common", "very common"))
    out, _, _ = run(str(path))
    assert "updated" in out
    assert Article.objects.count() == 1
    assert "very common" in Article.objects.get().body


def test_publish_flag(tmp_path: Path):
    path = tmp_path / "back.txt"
    path.write_text(TEXT)
    out, _, _ = run("--publish", str(path))
    assert "(published)" in out
    assert Article.objects.published().count() == 1


def test_bad_file_is_reported_and_the_others_still_import(tmp_path: Path):
    good = tmp_path / "good.txt"
    good.write_text(TEXT)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00bad")
    out, err, error = run(str(bad), str(tmp_path / "missing.md"), str(good))
    assert "bad.txt: not imported:" in err
    assert "missing.md: not imported: file not found" in err
    assert "good.txt: created" in out
    assert isinstance(error, CommandError)
    assert "1 of 3 file(s) imported. 2 failed" in str(error)
    assert Article.objects.count() == 1


def test_seed_format_files_import(tmp_path: Path):
    # The same shape as the clinic's existing files: a title line, short headings with no
    # full stop, paragraphs with stacked markers, and a closing paragraph after two blanks.
    text = (
        "Unveiling the Benefits of Stretching: A Guide\n\n"
        "Stretching helps in many ways. In this article we look at them.\n\n"
        "Boosting Blood Flow\n\n"
        "Moving improves circulation to the muscles[1][2].\n\n\n"
        "Make it a habit, and your body will thank you.\n"
    )
    path = tmp_path / "000_seed.txt"
    path.write_text(text)
    out, err, error = run(str(path))
    assert error is None, err
    article = Article.objects.get()
    assert article.title == "Unveiling the Benefits of Stretching: A Guide"
    assert "## Boosting Blood Flow" in article.body
    assert article.body.rstrip().endswith("your body will thank you.")
