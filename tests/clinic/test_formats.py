"""clinic/formats: 24-hour times everywhere, and time boxes without seconds."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime, AdminTimeWidget
from django.utils.formats import date_format, time_format


def test_times_are_24_hour():
    assert time_format(time(13, 0)) == "13:00"
    moment = datetime(2026, 11, 24, 13, 5, tzinfo=ZoneInfo("Europe/London"))
    assert date_format(moment, "DATETIME_FORMAT") == "24 Nov 2026, 13:05"
    assert date_format(moment, "SHORT_DATETIME_FORMAT") == "24/11/2026 13:05"
    # Dates are still Django's British ones.
    assert date_format(moment.date()) == "24 Nov 2026"


def test_time_boxes_show_no_seconds_and_still_read_them():
    html = AdminTimeWidget().render("start", time(9, 30))
    assert 'value="09:30"' in html
    split = AdminSplitDateTime().render("start", datetime(2026, 11, 24, 9, 30))
    assert 'value="09:30"' in split and 'value="24/11/2026"' in split
    field = forms.TimeField()
    assert field.clean("09:30") == time(9, 30)
    assert field.clean("09:30:15") == time(9, 30, 15)
