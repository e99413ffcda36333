"""Privacy (UU PDP): working a ticket in the console and looking one up on the public
page leave no phone number, Order ID or name in any log record, nor in the web process's
access log."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from callcenter.config import PROJECT_ROOT
from callcenter.tickets import lifecycle
from tests.conftest import API_TOKEN
from tests.console.conftest import csrf_from, post_form
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.production import production_environment
from tests.support.waiting import eventually


def test_console_work_and_a_status_lookup_log_no_personal_data(console, session, caplog):
    caplog.set_level(logging.DEBUG)
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    page = f"/console/tickets/{ticket.number}"
    agent = console.signed_in("sari", "agent")
    assert "Budi Santoso" in agent.get(page).get_data(as_text=True)  # the agent does see it
    post_form(agent, page, f"{page}/callback", {"call_at": ""})
    post_form(agent, page, f"{page}/documents", {"documents": "KTP\nSlip gaji"})
    post_form(agent, page, f"{page}/resolve", {"summary": "Dijelaskan."})  # refused: documents
    agent.get("/console/tickets?status=all")
    agent.get("/console/pop")

    public = console.client()
    form = public.get("/status").get_data(as_text=True)
    public.post("/status", data={"ticket": ticket.number, "phone": "0812-3456-7890",
                                 "csrf_token": csrf_from(form)})
    public.post("/status", data={"ticket": ticket.number, "phone": "081299998888",
                                 "csrf_token": csrf_from(form)})

    session.expire_all()
    worked = session.get(type(ticket), ticket.id)
    assert worked.callbacks and worked.required_documents  # the actions really ran
    assert worked.status != "resolved"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged  # the actions did log (jobs queued, refusals)
    for secret in (BUDI_PHONE, BUDI_PHONE[1:], "081234567890", "0812-3456-7890", "081299998888",
                   BUDI_ORDER, "Budi Santoso"):
        assert secret not in logged


# --- The web process as deployed: the Procfile's gunicorn and its access log ---------------

def _procfile_web() -> str:
    for line in (PROJECT_ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("the Procfile has no web: line")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_procfiles_gunicorn_access_log_carries_no_personal_data(env, session, tmp_path):
    """Searches by phone and Order ID, a phone number in a path and a referrer with a query:
    the real gunicorn, started with the Procfile's options, logs the paths and the names of
    the query parameters, never their values."""
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    port = _free_port()
    process_env = production_environment(
        f"http://127.0.0.1:{port}", PORT=str(port), WEB_CONCURRENCY="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    output = tmp_path / "web.log"
    with output.open("wb") as sink:
        web = subprocess.Popen(["bash", "-c", f"exec {_procfile_web()}"], cwd=PROJECT_ROOT,
                               env=process_env, stdout=sink, stderr=subprocess.STDOUT,
                               start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            eventually(lambda: _answers(f"{base}/api/health"), timeout=30)
            bearer = {"Authorization": f"Bearer {API_TOKEN}"}
            found = requests.get(f"{base}/api/tickets", headers=bearer, timeout=10, params={
                "phone": "0812-3456-7890", "order_id": BUDI_ORDER})
            assert found.status_code == 200 and found.json()["tickets"]  # the search ran
            requests.get(f"{base}/api/tickets?phone=%2B6281234567890", headers=bearer,
                         timeout=10)
            requests.get(f"{base}/api/tickets/081234567890", headers={
                **bearer, "Referer": f"{base}/console/tickets?q=0812-3456-7890&o={BUDI_ORDER}"},
                timeout=10)
            requests.get(f"{base}/status", params={"ticket": ticket.number,
                                                    "phone": "+62 812 3456 7890"}, timeout=10)
            requests.get(f"{base}/console/tickets", params={"q": "Budi Santoso"}, timeout=10)
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)
    logged = output.read_text(errors="replace")
    assert '"GET /api/tickets?phone=*&order_id=* HTTP/1.1" 200' in logged  # the access log
    assert "/console/tickets?q=*" in logged and " 404 " in logged
    for secret in (BUDI_PHONE, BUDI_PHONE[1:], "%2B6281234567890", "081234567890",
                   "0812-3456-7890", "+62 812 3456 7890", "+62+812+3456+7890", "3456",
                   BUDI_ORDER, "Budi", "Santoso", API_TOKEN):
        assert secret not in logged, f"{secret!r} in the web process's output:\n{logged}"


def _answers(url: str) -> bool:
    """The app answers (503: no worker runs in this test, so health says it is silent)."""
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False
