"""Site-wide pages."""

import errno

from django.conf import settings
from django.http import Http404, HttpResponseBadRequest, HttpResponseServerError
from django.shortcuts import render
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


@requires_csrf_token
def bad_request(request, exception=None):
    """400 in the site's look. Rendered without the request, as Django's own handler does:
    the request itself may be what is wrong (a host not in ALLOWED_HOSTS), and reading it
    again while drawing the page would fail once more."""
    html = loader.get_template("400.html").render({"clinic": settings.CLINIC})
    return HttpResponseBadRequest(html)


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def csrf_failure(request, reason: str = ""):
    """A form sent without its security token: usually cookies blocked or a page left
    open for very long. Django's stock page is unstyled, developer-facing and has an
    inline style the Content-Security-Policy refuses."""
    return render(request, "403_csrf.html", status=403)
