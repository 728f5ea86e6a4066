"""The client's own pages, under /book/account/, in the ``booking`` namespace
(``booking:account-home`` ...)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.AccountView.as_view(), name="account-home"),
    path("signin/", views.SignInView.as_view(), name="account-signin"),
    path("signin/sent/", views.SignInSentView.as_view(), name="account-signin-sent"),
    path("signin/<str:token>/", views.SignInLinkView.as_view(), name="account-signin-link"),
    path("signout/", views.SignOutView.as_view(), name="account-signout"),
    path(
        "visits/<int:appointment_id>/calendar.ics",
        views.VisitCalendarView.as_view(),
        name="account-visit-calendar",
    ),
    path("visits/<int:appointment_id>/again/", views.BookAgainView.as_view(), name="account-book-again"),
    path(
        "visits/<int:appointment_id>/reschedule/",
        views.RescheduleView.as_view(),
        name="account-reschedule",
    ),
    path(
        "visits/<int:appointment_id>/reschedule/confirm/",
        views.RescheduleConfirmView.as_view(),
        name="account-reschedule-confirm",
    ),
    path("health/unchanged/", views.HealthUnchangedView.as_view(), name="account-health-unchanged"),
    path("health/update/", views.HealthUpdateView.as_view(), name="account-health-update"),
    path("my-data.json", views.ExportView.as_view(), name="account-export"),
    path("delete/", views.EraseRequestView.as_view(), name="account-erase"),
    path("delete/<str:token>/", views.EraseConfirmView.as_view(), name="account-erase-confirm"),
]
