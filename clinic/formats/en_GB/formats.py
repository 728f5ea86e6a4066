"""British English as the clinic writes it: 24-hour times everywhere (the schedule, emails
and booking pages already do), so the admin never mixes "1 p.m." with "13:00", and time
boxes show hours and minutes, not seconds. Anything not set here comes from Django's
own en_GB formats."""

TIME_FORMAT = "H:i"  # 14:30
DATETIME_FORMAT = "j M Y, H:i"  # 25 Oct 2006, 14:30
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 25/10/2006 14:30

# The first is how a time box shows its value; the others are still accepted.
TIME_INPUT_FORMATS = [
    "%H:%M",  # 14:30
    "%H:%M:%S",  # 14:30:59
    "%H:%M:%S.%f",  # 14:30:59.000200
]
