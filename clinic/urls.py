"""Top-level URLs."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path, re_path
from django.views.generic import TemplateView

from articles.sitemaps import ArticleSitemap, StaticViewSitemap

from . import staff_views, views

handler400 = views.bad_request
handler403 = views.permission_denied
handler500 = views.server_error

sitemaps = {"pages": StaticViewSitemap, "articles": ArticleSitemap}

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("articles/", include("articles.urls")),
    path("book/", include("booking.urls")),
    # "Forgot your password?" on the staff sign-in page: Django's reset by email, for
    # staff accounts, rate limited (clinic/staff_views.py). Before the admin's own URLs.
    path("admin/password-reset/", staff_views.StaffPasswordResetView.as_view(), name="admin_password_reset"),
    path(
        "admin/password-reset/sent/",
        staff_views.StaffPasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "admin/password-reset/<uidb64>/<token>/",
        staff_views.StaffPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "admin/password-reset/done/",
        staff_views.StaffPasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
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
