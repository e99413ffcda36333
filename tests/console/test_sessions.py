"""Sign-out ends the session on the server: a console cookie copied before sign-out, a password
change, a deactivation or the end of the shift opens nothing afterwards. Without Redis the
console fails closed, politely."""

from __future__ import annotations

import time
from dataclasses import replace

from flask.sessions import SecureCookieSessionInterface
from redis import Redis
from sqlalchemy import select

from callcenter.models import AuditEntry, User
from tests.console.conftest import PASSWORD, Console, csrf_from, post_form
from tests.support.private_redis import private_redis
from webhooks.app import create_app

QUEUE = "/console/tickets"
SESSION_KEYS = "callcenter:console-session:*"


def copy_of(console: Console, client):
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = console.client()
    thief.set_cookie("session", cookie.value)
    return thief


def cookie_session(console: Console, client) -> dict:
    """What the browser's signed session cookie holds (empty when it has none)."""
    cookie = client.get_cookie("session")
    if cookie is None or not cookie.value:
        return {}
    serializer = SecureCookieSessionInterface().get_signing_serializer(console.app)
    return dict(serializer.loads(cookie.value))


def lands_on_sign_in(client, path: str = QUEUE) -> bool:
    reply = client.get(path)
    return reply.status_code == 302 and "/console/login" in reply.headers["Location"]


def sign_out(client) -> None:
    token = csrf_from(client.get(QUEUE).get_data(as_text=True))
    reply = client.post("/console/logout", data={"csrf_token": token})
    assert reply.status_code == 302 and reply.headers["Location"] == "/console/login"


def test_a_cookie_copied_before_sign_out_lands_on_the_sign_in_page(console, session):
    sari = console.signed_in("sari", "agent")
    thief = copy_of(console, sari)
    assert thief.get(QUEUE).status_code == 200  # the copy works while sari is signed in
    sign_out(sari)
    assert lands_on_sign_in(thief)
    assert lands_on_sign_in(sari)
    actions = [a.action for a in session.scalars(select(AuditEntry).where(
        AuditEntry.actor == "user:sari").order_by(AuditEntry.id))]
    assert actions[0] == "sign_in" and actions[-1] == "sign_out"


def test_signing_out_ends_only_that_session(console):
    phone = console.signed_in("sari", "agent")
    desk = console.client()
    token = csrf_from(desk.get("/console/login").get_data(as_text=True))
    desk.post("/console/login", data={"username": "sari", "password": PASSWORD,
                                      "csrf_token": token})
    sign_out(phone)
    assert lands_on_sign_in(phone)
    assert desk.get(QUEUE).status_code == 200


def test_an_admins_password_reset_and_deactivation_end_copied_sessions(console, session):
    admin = console.signed_in("adi", "admin")
    sari_browser = console.signed_in("sari", "agent")
    dewi_browser = console.signed_in("dewi", "agent")
    sari_copy, dewi_copy = copy_of(console, sari_browser), copy_of(console, dewi_browser)
    sari = session.scalars(select(User).where(User.username == "sari")).one()
    dewi = session.scalars(select(User).where(User.username == "dewi")).one()
    page = f"/console/users/{sari.id}"
    post_form(admin, page, f"{page}/password", {"password": "another long password"})
    assert lands_on_sign_in(sari_copy) and lands_on_sign_in(sari_browser)
    page = f"/console/users/{dewi.id}"
    post_form(admin, page, f"{page}/deactivate", {})
    post_form(admin, page, f"{page}/reactivate", {})
    assert lands_on_sign_in(dewi_copy)  # reactivating does not bring old sessions back
    assert admin.get("/console/users").status_code == 200


def test_a_session_ends_with_the_shift_however_busy(console, settings, redis_conn: Redis):
    """The server forgets a sign-in CONSOLE_SESSION_HOURS after it was made (use does not
    extend it); the cookie is then worth nothing, whatever date it carries."""
    sari = console.signed_in("sari", "agent")
    thief = copy_of(console, sari)
    keys = list(redis_conn.scan_iter(SESSION_KEYS))
    assert len(keys) == 1
    shift = settings.console_session_hours * 3600
    assert shift - 60 < redis_conn.ttl(keys[0]) <= shift
    for _ in range(3):
        assert sari.get(QUEUE).status_code == 200
    assert redis_conn.ttl(keys[0]) <= shift
    redis_conn.pexpire(keys[0], 1)  # the shift is over
    time.sleep(0.05)
    assert lands_on_sign_in(thief) and lands_on_sign_in(sari)


def test_only_a_hash_of_the_session_id_is_kept_in_redis(console, redis_conn: Redis):
    sari = console.signed_in("sari", "agent")
    sid = cookie_session(console, sari)["sid"]
    stored = [key.decode() for key in redis_conn.scan_iter("*")]
    assert stored and not any(sid in key for key in stored)
    assert not any(sid.encode() in (redis_conn.get(key) or b"") for key in stored
                   if redis_conn.type(key) == b"string")


def test_without_redis_the_console_lets_nobody_in_and_says_so(settings, session):
    """Fail closed, never a 500: with the session store down, pages answer 503 with words,
    sign-in is refused (and not recorded as one), sign-out forgets the cookie and says the
    server could not end the session. When Redis comes back empty, old cookies are void."""
    with private_redis() as redis_server:
        console = Console(create_app(replace(settings, redis_url=redis_server.url)), session)
        sari = console.signed_in("sari", "agent")
        assert sari.get(QUEUE).status_code == 200
        copy = copy_of(console, sari)
        token = csrf_from(sari.get(QUEUE).get_data(as_text=True))
        console.user("dewi", "agent")
        dewi = console.client()
        dewi_token = csrf_from(dewi.get("/console/login").get_data(as_text=True))

        redis_server.stop()
        page = sari.get(QUEUE)
        assert page.status_code == 503
        assert "cannot check sign-ins right now" in page.get_data(as_text=True)
        poll = sari.get("/console/pop", headers={"HX-Request": "true"})
        assert poll.status_code == 503
        refused = dewi.post("/console/login", data={
            "username": "dewi", "password": PASSWORD, "csrf_token": dewi_token})
        assert refused.status_code == 503
        assert "cannot check sign-ins right now" in refused.get_data(as_text=True)
        assert session.scalars(select(AuditEntry).where(
            AuditEntry.actor == "user:dewi")).first() is None
        out = sari.post("/console/logout", data={"csrf_token": token})
        assert out.status_code == 503
        assert "could not end the session" in out.get_data(as_text=True)
        assert "uid" not in cookie_session(console, sari)  # this browser forgot it

        redis_server.start()  # back, and empty
        assert lands_on_sign_in(copy)
        assert console.signed_in("wati", "agent").get(QUEUE).status_code == 200
