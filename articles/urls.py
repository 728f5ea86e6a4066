from django.urls import path

from . import feeds, views

app_name = "articles"

urlpatterns = [
    path("", views.ArticleListView.as_view(), name="article-list"),
    path("feed/", feeds.LatestArticlesFeed(), name="article-feed"),
    path("<slug:slug>/", views.ArticleDetailView.as_view(), name="article-detail"),
]
