from django.urls import path

from . import feeds, views
from .caching import cache_for_visitors

app_name = "articles"

urlpatterns = [
    path(
        "",
        cache_for_visitors(views.ArticleListView.as_view(), params=views.ArticleListView.page_params),
        name="article-list",
    ),
    path("feed/", feeds.LatestArticlesFeed(), name="article-feed"),
    path("<slug:slug>/", cache_for_visitors(views.ArticleDetailView.as_view()), name="article-detail"),
]
