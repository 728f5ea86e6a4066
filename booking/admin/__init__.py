"""The staff workspace for booking, in the Django admin, one module a job:

- ``core``: techniques, therapists with their hours and time off, closures, the booking
  policy and appointments (written through the booking services, so the admin can never
  double-book: a clash is a form error naming the other booking);
- ``schedule``: the day's schedule; ``outbox``: emails; ``clients``: client records;
  ``intake``: health questions, rules and doctors' notes; ``notes``: treatment notes;
  ``privacy``: who looked at health data, a client's export and erasure; ``waitlist``:
  the waitlist and its offers (issue 14).

Importing this package registers every model admin with the site.
"""

from . import (
    core,  # noqa: F401
    rooms,  # noqa: F401
    waitlist,  # noqa: F401
)
