"""Site-wide pages."""

import errno

from django.conf import settings
from django.http import Http404, HttpResponseServerError
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token
from django.views.generic import TemplateView
from django.views.static import serve

from articles.models import Article


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["latest_articles"] = list(
            Article.objects.published().prefetch_related("topics").order_by("-published_at")[:3]
        )
        return context


def media(request, path: str):
    """Uploaded pictures from ``MEDIA_ROOT``, by Django's static ``serve``. A name longer
    than the file system allows (ENAMETOOLONG) cannot be a stored file: a 404, not a
    server error."""
    try:
        return serve(request, path, document_root=settings.MEDIA_ROOT)
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            raise Http404("No such file.") from None
        raise


@requires_csrf_token
def server_error(request):
    """The 500 page, saying only what is true: staff are emailed the error when ADMINS
    is set; otherwise it is only in the server's log."""
    # Like Django's own handler: a plain context, no context processors, no database.
    html = loader.get_template("500.html").render({"staff_emailed": bool(settings.ADMINS)})
    return HttpResponseServerError(html)
