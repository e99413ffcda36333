"""A centre's zone in which it is working time right now, for tests whose processes run on
the real clock (a started ``callcenter worker`` or ``scheduler`` cannot be time-travelled).

Callbacks dial and oral complaints convert only inside ``CALLING_HOURS`` in the centre's
(or the customer's) zone, callbacks only on a calling day, the digest from 08:00. A test
that starts the real processes picks, from the whole-hour zones ``Etc/GMT+12`` …
``Etc/GMT-14``, one where the local time is now inside the window with a margin on both
sides, and gives it to its processes as ``CALLCENTER_TZ``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.callbacks.calling_hours import is_calling_day
from callcenter.models import utcnow

MARGIN = timedelta(minutes=30)  # a test's run stays inside the window


def zone_open_now(start: time, end: time, *, calling_day: bool = False,
                  now: datetime | None = None) -> str:
    """A zone (``Etc/GMT±N``) where ``now`` falls inside ``start``–``end`` with
    :data:`MARGIN` either side (and, with ``calling_day``, on a day customers may be called:
    Monday–Saturday, not a national holiday). Skips the test in the rare hour no zone fits."""
    now = now or utcnow()
    for hours in range(-12, 15):  # Etc/GMT-N is N hours *ahead* of UTC
        name = "Etc/GMT" if hours == 0 else f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"
        local = now.astimezone(ZoneInfo(name))
        opening = datetime.combine(local.date(), start, tzinfo=local.tzinfo)
        closing = datetime.combine(local.date(), end, tzinfo=local.tzinfo)
        if opening + MARGIN <= local <= closing - MARGIN and (
                not calling_day or is_calling_day(local.date())):
            return name
    pytest.skip(f"no whole-hour zone is inside {start}-{end} at {now:%Y-%m-%d %H:%M} UTC")
