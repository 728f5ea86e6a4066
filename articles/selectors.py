"""Reads for article pages, each a fixed number of queries."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import Article, Topic


def article_list(*, user, topic: Topic | None = None, query: str = "") -> QuerySet[Article]:
    """Articles for the list page, newest first, with their topics in one extra query."""
    articles = Article.objects.visible_to(user).search(query[:200]).defer("body")
    if topic is not None:
        articles = articles.filter(topics=topic)
    return articles.prefetch_related(Prefetch("topics", queryset=Topic.objects.only("name", "slug")))


def article_detail_queryset(*, user) -> QuerySet[Article]:
    from booking.models import Technique

    # The call to action links only the techniques clients can book online now.
    return Article.objects.visible_to(user).prefetch_related(
        "topics", "references", Prefetch("techniques", queryset=Technique.objects.bookable())
    )


def article_related(*, article: Article, limit: int = 2) -> list[Article]:
    """Published articles sharing the most topics with this one, newest first."""
    topic_ids = [t.pk for t in article.topics.all()]
    return list(
        Article.objects.published()
        .exclude(pk=article.pk)
        .annotate(shared=Count("topics", filter=Q(topics__in=topic_ids), distinct=True))
        .order_by("-shared", "-published_at", "-id")
        .defer("body")
        .prefetch_related("topics")[:limit]
    )


def topics_in_use() -> QuerySet[Topic]:
    """Topics with at least one published article, for the filter menu."""
    return (
        Topic.objects.filter(articles__in=Article.objects.published())
        .annotate(article_count=Count("articles", distinct=True))
        .order_by("name")
    )
