import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ArticleFactory, DraftArticleFactory

pytestmark = pytest.mark.django_db


def test_feed_lists_published_articles_newest_first(client):
    older = ArticleFactory(title="Older", published_at=timezone.now() - timedelta(days=5))
    newer = ArticleFactory(title="Newer", published_at=timezone.now() - timedelta(days=1))
    DraftArticleFactory(title="Hidden draft")
    response = client.get("/articles/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    items = ET.fromstring(response.content).findall("./channel/item")
    assert [i.findtext("title") for i in items] == ["Newer", "Older"]
    assert items[0].findtext("link").endswith(newer.get_absolute_url())
    assert items[1].findtext("description") == older.summary
