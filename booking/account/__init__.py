"""The client's own pages (issue 14): signing in by an email link, their visits,
rebooking, their data. Views in ``views``, the link emails in ``emails`` and ``tasks``;
the rules are in ``booking.services.signin`` and the booking services."""
