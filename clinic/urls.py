"""Top-level URLs."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path, re_path
from django.views.generic import TemplateView

from articles.sitemaps import ArticleSitemap, StaticViewSitemap

from . import views

handler400 = views.bad_request
handler403 = views.permission_denied
handler500 = views.server_error

sitemaps = {"pages": StaticViewSitemap, "articles": ArticleSitemap}

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("articles/", include("articles.urls")),
    path("book/", include("booking.urls")),
    path("admin/", admin.site.urls),
    path("sitemap.xml", sitemap, {"sitemaps": sitemaps}, name="sitemap"),
    path(
        "robots.txt",
        TemplateView.as_view(template_name="robots.txt", content_type="text/plain; charset=utf-8"),
        name="robots",
    ),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, view=views.media)
elif settings.SERVE_MEDIA:
    # Uploaded pictures (validated images with random names) for a site with no separate
    # web server in front; set SERVE_MEDIA=false when one serves /media/ itself.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", views.media, name="media")]
