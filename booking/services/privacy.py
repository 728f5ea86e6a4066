"""Health data under UK GDPR: the record of who looked at it (and, as it grows, export,
erasure and retention)."""

from __future__ import annotations

from ..choices import HealthAccessKind
from ..models import Client, HealthDataAccess


def health_access_record(
    *, user, client: Client | None, kind: HealthAccessKind, object_id: int | None = None
) -> None:
    """Record that ``user`` was shown ``kind`` of ``client``'s health data. Call it from
    every view that shows health answers, doctors' notes or treatment notes to staff."""
    HealthDataAccess.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "get_username", lambda: "")() or "",
        client=client,
        kind=kind,
        object_id=object_id,
    )
