"""The supervisors' daily email: complaints nearing their deadline and those past it.

Breach prevention: a supervisor sees, every working morning, which tickets are due
within ``COMPLAINT_NEARING_WORKING_DAYS`` and which are late and by how much.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callcenter.channels.email_outbound import deliver
from callcenter.compliance import regulation
from callcenter.config import Settings
from callcenter.models import Ticket, utcnow
from callcenter.statuses import OPEN_TICKET_STATUSES
from workers.runtime import job_session


def digest_text(settings: Settings, now: datetime | None = None) -> tuple[str, int, int]:
    """The digest's body, and how many tickets are nearing and breached."""
    now = now or utcnow()
    zone = ZoneInfo(settings.timezone)
    work = regulation.WorkCalendar.from_settings(settings)
    with job_session(settings) as session:
        unsettled = list(session.scalars(select(Ticket).where(
            Ticket.status.in_(OPEN_TICKET_STATUSES), Ticket.due_at.is_not(None))))
        soon = regulation.nearing(unsettled, now, settings.complaint_nearing_working_days, work)
        late = regulation.breached(unsettled, now, work)
        lines = [f"Pengaduan per {now.astimezone(zone):%d-%m-%Y %H:%M} ({settings.timezone})", ""]
        lines.append(f"Lewat batas waktu: {len(late)}")
        lines += [f"  {s.ticket.number}  {s.ticket.channel:<8} {s.ticket.category:<16} "
                  f"jatuh tempo {s.due_at.astimezone(zone):%d-%m-%Y}, terlambat "
                  f"{s.working_days_late} hari kerja" for s in late]
        lines += ["", f"Mendekati batas waktu: {len(soon)}"]
        lines += [f"  {s.ticket.number}  {s.ticket.channel:<8} {s.ticket.category:<16} "
                  f"jatuh tempo {s.due_at.astimezone(zone):%d-%m-%Y}, sisa "
                  f"{s.working_days_left} hari kerja" for s in soon]
    return "\n".join(lines) + "\n", len(soon), len(late)


def send_breach_digest(settings: Settings, now: datetime | None = None) -> bool:
    """Email the digest to ``SUPERVISOR_EMAILS``; False when nobody is configured."""
    if not settings.supervisor_emails:
        return False
    body, soon, late = digest_text(settings, now)
    message = EmailMessage()
    message["From"] = settings.support_email
    message["To"] = ", ".join(settings.supervisor_emails)
    message["Subject"] = f"[Pengaduan] {late} lewat batas waktu, {soon} mendekati"
    message["Date"] = format_datetime(now or utcnow())
    message["Message-ID"] = make_msgid(domain=settings.support_email.split("@")[-1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    deliver(settings, message)
    return True
