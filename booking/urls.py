from django.urls import path

from . import views

app_name = "booking"

urlpatterns = [
    path("", views.TechniqueListView.as_view(), name="technique-list"),
    path("api/availability/", views.AvailabilityApiView.as_view(), name="availability-api"),
    path("<slug:technique>/", views.TechniqueDetailView.as_view(), name="technique-detail"),
]
