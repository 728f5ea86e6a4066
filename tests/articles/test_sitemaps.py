import xml.etree.ElementTree as ET

import pytest

from tests.factories import ArticleFactory, DraftArticleFactory

pytestmark = pytest.mark.django_db
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def test_sitemap_lists_main_pages_and_every_published_article(client):
    published = [ArticleFactory() for _ in range(3)]
    draft = DraftArticleFactory()
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    locations = {loc.text for loc in ET.fromstring(response.content).findall("s:url/s:loc", NS)}
    for path in ["/", "/articles/", "/book/"] + [a.get_absolute_url() for a in published]:
        assert f"http://testserver{path}" in locations
    assert f"http://testserver{draft.get_absolute_url()}" not in locations


def test_robots_txt_points_to_the_sitemap_and_keeps_out_of_admin(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "Sitemap: http://testserver/sitemap.xml" in text
    assert "Disallow: /admin/" in text
