"""The site's URLs with a trivial view in front, for the benchmarks' yardstick: it runs
through the same middleware, in the same process, as the pages it is compared with."""

from django.http import HttpResponse
from django.urls import include, path


def trivial(request):
    return HttpResponse("ok")


urlpatterns = [
    path("__bench/trivial/", trivial, name="bench-trivial"),
    path("", include("clinic.urls")),
]
