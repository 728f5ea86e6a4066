from articles.markdown import cited_numbers, render_markdown


def test_headings_paragraphs_and_emphasis_render():
    html = render_markdown("## Sleep\n\nA **calm** body.", frozenset())
    assert "<h2>Sleep</h2>" in html
    assert "<strong>calm</strong>" in html


def test_citation_markers_link_to_known_references_only():
    html = render_markdown("Blood flow improves [1][2], and more [9].", frozenset({1, 2}))
    assert 'href="#ref-1"' in html and 'href="#ref-2"' in html
    assert 'id="cite-1-1"' in html
    # [9] has no reference: it stays plain text, not a link to nowhere.
    assert "#ref-9" not in html and "[9]" in html


def test_second_citation_of_same_reference_gets_its_own_anchor():
    html = render_markdown("One [1]. Two [1].", frozenset({1}))
    assert 'id="cite-1-1"' in html and 'id="cite-1-2"' in html


def test_markdown_links_with_numbers_are_not_citations():
    html = render_markdown("See [3](https://example.org).", frozenset({3}))
    assert 'href="https://example.org"' in html
    assert "#ref-3" not in html


def test_scripts_event_handlers_and_javascript_links_are_removed():
    body = (
        "<script>alert(1)</script>\n\n"
        '<a href="https://example.org" onclick="steal()">x</a>\n\n'
        "[click](javascript:alert(1))\n\n"
        '<img src="x" onerror="alert(1)">\n\n'
        "<iframe src='https://evil.example'></iframe>"
    )
    html = render_markdown(body, frozenset())
    lowered = html.lower()
    assert "<script" not in lowered
    assert "onclick" not in lowered and "onerror" not in lowered
    assert "javascript:" not in lowered
    assert "<iframe" not in lowered and "<img" not in lowered


def test_external_links_get_safe_rel():
    html = render_markdown("[NHS](https://www.nhs.uk/)", frozenset())
    assert 'rel="noopener noreferrer nofollow"' in html


def test_cited_numbers():
    assert cited_numbers("a [1] b [2][3] c [4](http://x) [5]: y") == {1, 2, 3}
