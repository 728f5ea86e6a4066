from django.urls import include, path

from . import calendar_feed_views, views, waitlist_views

app_name = "booking"

urlpatterns = [
    path("", views.TechniqueListView.as_view(), name="technique-list"),
    path("api/availability/", views.AvailabilityApiView.as_view(), name="availability-api"),
    # The client's own pages (issue 14): before the technique slugs, which would match "account".
    path("account/", include("booking.account.urls")),
    # A therapist's calendar feed (issue 15): the secret is the whole key.
    path(
        "calendar/<str:secret>.ics",
        calendar_feed_views.TherapistCalendarView.as_view(),
        name="therapist_calendar",
    ),
    path("again/<str:token>/", views.BookAgainView.as_view(), name="book-again"),
    path("confirmed/<str:token>/", views.AppointmentConfirmedView.as_view(), name="appointment-confirmed"),
    path("manage/<str:token>/", views.AppointmentManageView.as_view(), name="appointment-manage"),
    path(
        "manage/<str:token>/calendar.ics",
        views.AppointmentCalendarView.as_view(),
        name="appointment-calendar",
    ),
    path("manage/<str:token>/cancel/", views.AppointmentCancelView.as_view(), name="appointment-cancel"),
    path(
        "manage/<str:token>/reschedule/",
        views.AppointmentRescheduleView.as_view(),
        name="appointment-reschedule",
    ),
    path(
        "manage/<str:token>/reschedule/confirm/",
        views.AppointmentRescheduleConfirmView.as_view(),
        name="appointment-reschedule-confirm",
    ),
    # Waitlist (issue 14)
    path("waitlist/offer/<slug:token>/", waitlist_views.WaitlistOfferView.as_view(), name="waitlist-offer"),
    path("waitlist/entry/<str:token>/", waitlist_views.WaitlistEntryView.as_view(), name="waitlist-entry"),
    path("<slug:technique>/waitlist/", waitlist_views.WaitlistJoinView.as_view(), name="waitlist-join"),
    path("<slug:technique>/", views.TechniqueDetailView.as_view(), name="technique-detail"),
    path("<slug:technique>/times/", views.TimesView.as_view(), name="times"),
    path("<slug:technique>/details/", views.DetailsView.as_view(), name="details"),
    path("<slug:technique>/review/", views.ReviewView.as_view(), name="review"),
]
