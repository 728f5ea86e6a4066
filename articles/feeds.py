"""RSS feed of the latest published articles."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse_lazy

from .models import Article


class LatestArticlesFeed(Feed):
    title = f"{settings.CLINIC['name']}: articles"
    link = reverse_lazy("articles:article-list")
    description = "Articles about the benefits of massage, from our therapists."

    def items(self):
        return Article.objects.published().order_by("-published_at")[:20]

    def item_title(self, item: Article) -> str:
        return item.title

    def item_description(self, item: Article) -> str:
        return item.summary

    def item_pubdate(self, item: Article):
        return item.published_at

    def item_updateddate(self, item: Article):
        return item.updated_at

    def item_author_name(self, item: Article) -> str:
        return item.author_name
