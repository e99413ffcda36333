"""Sign-in: roles, hashed passwords, sessions with CSRF, lock-out, audit rows."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.models import AuditEntry, User
from tests.console.conftest import PASSWORD, csrf_from


def _login(client, username: str, password: str, token: str | None = None):
    if token is None:
        token = csrf_from(client.get("/console/login").get_data(as_text=True))
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": token})


def test_a_stranger_is_sent_to_sign_in_and_comes_back_to_the_page_asked_for(console):
    console.user("sari", "agent")
    client = console.client()
    asked = client.get("/console/?tab=mine")
    assert asked.status_code == 302 and "/console/login?next=" in asked.headers["Location"]
    login_page = client.get(asked.headers["Location"])
    token = csrf_from(login_page.get_data(as_text=True))
    reply = client.post(asked.headers["Location"], data={
        "username": "sari", "password": PASSWORD, "csrf_token": token})
    assert reply.status_code == 302 and reply.headers["Location"] == "/console/?tab=mine"


def test_the_password_is_stored_hashed_and_a_wrong_one_is_refused(console, session):
    console.user("sari", "agent")
    stored = session.scalars(select(User).where(User.username == "sari")).one()
    assert PASSWORD not in stored.password_hash
    client = console.client()
    reply = _login(client, "sari", "not the password")
    assert reply.status_code == 401
    assert "Wrong user name or password" in reply.get_data(as_text=True)
    assert client.get("/console/").status_code == 302  # still a stranger


def test_a_form_without_its_csrf_token_changes_nothing(console, session):
    console.user("sari", "agent")
    client = console.client()
    refused = _login(client, "sari", PASSWORD, token="forged")
    assert refused.status_code == 400
    assert "CSRF" in refused.get_data(as_text=True)
    assert "<html" in refused.get_data(as_text=True)  # a page for a person, not JSON
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "sign_in")).first() is None


def test_five_failures_lock_the_account_even_for_the_right_password(console):
    console.user("sari", "agent")
    client = console.client()
    for _ in range(5):
        assert _login(client, "sari", "wrong password!").status_code == 401
    assert _login(client, "sari", PASSWORD).status_code == 401
    assert client.get("/console/").status_code == 302


def test_sign_in_and_out_are_audited_and_sign_out_ends_the_session(console, session):
    client = console.signed_in("sari", "agent")
    page = client.get("/console/login")
    client.post("/console/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert client.get("/console/").status_code == 302
    actions = [a.action for a in session.scalars(
        select(AuditEntry).where(AuditEntry.actor == "user:sari").order_by(AuditEntry.id))]
    assert actions == ["sign_in", "sign_out"]


def test_a_password_change_ends_open_sessions(console, session):
    from werkzeug.security import generate_password_hash
    client = console.signed_in("sari", "agent")
    user = session.scalars(select(User).where(User.username == "sari")).one()
    user.password_hash = generate_password_hash("another long password")
    session.commit()
    assert client.get("/console/").status_code == 302
    assert "/console/login" in client.get("/console/").headers["Location"]


def test_next_never_leaves_the_console(console):
    console.user("sari", "agent")
    client = console.client()
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    reply = client.post("/console/login?next=https://evil.example/", data={
        "username": "sari", "password": PASSWORD, "csrf_token": token})
    assert reply.status_code == 302 and "evil" not in reply.headers["Location"]


def test_pages_forbid_framing_and_inline_script(console):
    page = console.client().get("/console/login")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


class HashCounter:
    """Counts the password hashes werkzeug computes (method and cost of each): the work a
    refusal costs, which is what its timing reveals."""

    def __init__(self, monkeypatch) -> None:
        import werkzeug.security

        self.methods: list[str] = []
        real = werkzeug.security._hash_internal

        def counted(method: str, salt: str, password: str):
            self.methods.append(method)
            return real(method, salt, password)

        monkeypatch.setattr(werkzeug.security, "_hash_internal", counted)

    def during(self, action) -> list[str]:
        self.methods.clear()
        action()
        return list(self.methods)


def _basic(client, username: str, password: str):
    return client.get("/api/templates", auth=(username, password))


def test_unknown_names_cost_the_same_password_hash_as_known_ones(console, session, monkeypatch):
    """Sign-in and API basic auth: an unknown name, a deactivated or locked account and a
    known name with a wrong password each cost one hash of the stored kind, so the time
    taken does not tell which names exist."""
    console.user("sari", "agent")
    gone = console.user("lama", "agent")
    gone.active = False
    locked = console.user("kunci", "agent")
    locked.failed_logins = 4
    session.commit()
    client = console.client()
    assert _login(client, "kunci", "wrong password!").status_code == 401  # now locked
    counter = HashCounter(monkeypatch)
    assert _login(client, "nobody-here", "x").status_code == 401  # warm-up: dummy hash made
    known = counter.during(lambda: _login(client, "sari", "wrong password!"))
    assert len(known) == 1 and known[0].startswith("scrypt")
    for name in ("nobody-at-all", "lama", "kunci"):
        assert counter.during(lambda n=name: _login(client, n, "wrong password!")) == known
        assert counter.during(lambda n=name: _basic(client, n, "wrong password!")) == known
    assert counter.during(lambda: _basic(client, "sari", "wrong password!")) == known
    assert _basic(client, "sari", PASSWORD).status_code == 200  # the right one still works


def test_a_next_with_line_breaks_signs_in_to_the_home_page_not_a_server_error(console,
                                                                               session):
    """CR/LF in ``next`` would split the Location header: the sign-in still works, and lands
    on the person's own start page; the trail has the one sign-in, no error after it."""
    console.user("sari", "agent")
    for crafted in ("/console/%0d%0aSet-Cookie:%20x=1", "/console/%0aX-Evil:%201",
                    "/console/tickets%09x"):
        client = console.client()
        token = csrf_from(client.get("/console/login").get_data(as_text=True))
        reply = client.post(f"/console/login?next={crafted}", data={
            "username": "sari", "password": PASSWORD, "csrf_token": token})
        assert reply.status_code == 302, reply.status_code
        assert reply.headers["Location"] == "/console/tickets"
        assert "Set-Cookie: x" not in str(reply.headers) and "X-Evil" not in reply.headers
    assert [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))] \
        == ["sign_in"] * 3
