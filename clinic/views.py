"""Site-wide pages."""

from django.views.generic import TemplateView

from articles.models import Article


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["latest_articles"] = list(
            Article.objects.published().prefetch_related("topics").order_by("-published_at")[:3]
        )
        return context
