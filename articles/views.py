"""Article pages for visitors."""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404
from django.views.generic import DetailView, ListView

from . import selectors
from .models import Article, Topic

MAX_QUERY_LENGTH = 200
SLUG_RE = re.compile(r"[-a-zA-Z0-9_]+")


class ArticleListView(ListView):
    """Published articles, newest first; filter by ?topic=, search with ?q=."""

    template_name = "articles/article_list.html"
    context_object_name = "articles"
    paginate_by = 10
    # The query parameters the page is made from (the page cache keys on these alone);
    # the canonical address keeps the first two.
    page_params = ("topic", "page", "q")

    def get(self, request, *args, **kwargs):
        # NUL characters cannot be stored or searched (PostgreSQL refuses them): drop them.
        self.query = " ".join(request.GET.get("q", "").replace("\x00", "").split())[:MAX_QUERY_LENGTH]
        self.topic = None
        if slug := request.GET.get("topic", "").strip():
            if not SLUG_RE.fullmatch(slug[:60]):
                raise Http404("No such topic.")
            self.topic = get_object_or_404(Topic, slug=slug[:60])
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.article_list(user=self.request.user, topic=self.topic, query=self.query)

    def paginate_queryset(self, queryset, page_size):
        # Forgiving paging: ?page=abc gives the first page, ?page=99999 the last one.
        paginator = Paginator(queryset, page_size)
        page = paginator.get_page(self.request.GET.get("page"))
        return paginator, page, page.object_list, page.has_other_pages()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Paging links carry the filter, nothing else (no tracking tags): the page is
        # then the same for every address the cache serves it to.
        querystring = QueryDict(mutable=True)
        for name in ("topic", "q"):
            if value := self.request.GET.get(name):
                querystring[name] = value
        context.update(
            query=self.query,
            topic=self.topic,
            topics=selectors.topics_in_use(),
            filter_querystring=querystring.urlencode(),
            canonical_params=("topic", "page"),
        )
        return context


class ArticleDetailView(DetailView):
    """One article; drafts and scheduled ones only for staff, with a banner."""

    template_name = "articles/article_detail.html"
    context_object_name = "article"

    def get_queryset(self):
        return selectors.article_detail_queryset(user=self.request.user)

    def get_object(self, queryset=None):
        slug = self.kwargs["slug"]
        if len(slug) > 200:
            raise Http404("No such article.")
        return get_object_or_404(self.get_queryset(), slug=slug)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        article: Article = self.object
        context["related"] = selectors.article_related(article=article)
        return context
