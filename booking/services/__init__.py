"""Writes for booking, one module per topic: ``appointments`` (book, move, cancel, mark,
change from the admin, reminders) and ``schedules`` (working hours, time off).

Every path that writes (the web, the admin, imports, the shell) calls these, so each rule
lives in one place. Callers import the module they need
(``from booking.services import appointments``); nothing is re-exported here.
"""
