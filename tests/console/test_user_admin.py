"""The admin's People page: who may sign in, with which role, linked to which agent.

Every test drives the real app through its forms (real sessions, real CSRF tokens) and checks
what the people concerned would notice: signing in, being signed out, a page now refused.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.models import Agent, AuditEntry, User, utcnow
from callcenter.voice import agents as agent_registry
from tests.console.conftest import PASSWORD, csrf_from, post_form

PAGE = "/console/users"
NEW_PASSWORD = "another long password"
AGENT_PHONE = "+628110000001"


def _login(client, username: str, password: str):
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": token})


def _user(session, username: str) -> User:
    session.expire_all()
    return session.scalars(select(User).where(User.username == username)).one()


def _page_of(session, username: str) -> str:
    return f"{PAGE}/{_user(session, username).id}"


def _act(client, session, username: str, action: str, data: dict[str, str] | None = None):
    """Submit one of the user page's forms (``role``, ``deactivate``, ``password`` …)."""
    page = _page_of(session, username)
    return post_form(client, page, f"{page}/{action}", data or {})


def _audit(session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                .order_by(AuditEntry.id)))


def _flash(client) -> str:
    """The flash message(s) on the next page shown."""
    html = client.get(PAGE).get_data(as_text=True)
    return " ".join(re.findall(r'<p class="flash[^"]*" role="status">(.*?)</p>', html))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_list_shows_role_state_and_masked_agent_and_is_audited_once(console, session):
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE)
    console.user("sari", "agent", agent_id=agent.id)
    console.user("dewi", "supervisor")
    locked = console.user("lina", "qa")
    locked.locked_until = utcnow() + timedelta(minutes=10)
    gone = console.user("gone", "agent")
    gone.active = False
    session.commit()
    admin = console.signed_in("root", "admin")
    reply = admin.get(PAGE)
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    rows = {re.sub(r" \(you\)", "", _text(row)).split()[0]: _text(row).strip()
            for row in re.findall(r"<tr>\s*<th scope=\"row\"[^>]*>(.*?)</tr>", html, re.S)}
    assert set(rows) == {"dewi", "gone", "lina", "root", "sari"}
    assert rows["sari"].startswith("sari Agent Active No Sari +62******0001 ")
    assert rows["dewi"].startswith("dewi Supervisor Active No — ")
    assert rows["lina"].startswith("lina QA Active Locked until ")
    assert rows["gone"].startswith("gone Agent Deactivated No — ")
    assert rows["root"].startswith("root (you) Admin Active No")
    assert AGENT_PHONE not in html and "8110000001" not in html
    for label, field in (("User name", "new-username"), ("Role", "new-role"),
                         ("Password", "new-password")):
        assert f'<label for="{field}">{label}</label>' in html
    assert 'minlength="10"' in html
    assert "style=" not in html and "<style" not in html and "<script>" not in html
    views = _audit(session, "view_users")
    assert len(views) == 1 and views[0].actor == "user:root"


def test_an_admin_adds_a_user_who_can_then_sign_in(console, session):
    admin = console.signed_in("root", "admin")
    reply = post_form(admin, PAGE, PAGE, {"username": "budi", "role": "supervisor",
                                         "password": NEW_PASSWORD})
    assert reply.status_code == 302 and reply.headers["Location"] == PAGE
    assert "budi added as Supervisor" in _flash(admin)
    budi = console.client()
    signed_in = _login(budi, "budi", NEW_PASSWORD)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/console/floor"
    assert budi.get("/console/floor").status_code == 200
    created = _audit(session, "create_user")
    assert [(a.actor, a.subject, a.detail) for a in created] == [
        ("user:root", "user:budi", "role supervisor")]


@pytest.mark.parametrize(("username", "password", "message"), [
    ("budi", "short", "password must have at least 10 characters"),
    ("root", NEW_PASSWORD, "user \'root\' exists already"),
    ("two words", NEW_PASSWORD, "user name must not contain spaces"),
])
def test_a_refused_user_shows_why_and_keeps_the_name_but_not_the_password(
        console, session, username, password, message):
    admin = console.signed_in("root", "admin")
    reply = post_form(admin, PAGE, PAGE, {"username": username, "role": "qa",
                                         "password": password})
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert f"User not added: {message}." in html.replace("&#39;", "\'")
    assert f'value="{username}"' in html
    assert '<option value="qa" selected>' in html
    assert password not in html
    assert _audit(session, "create_user") == []
    assert session.scalars(select(User)).all() == [_user(session, "root")]


def test_a_demoted_supervisor_is_refused_the_floor_at_their_next_page(console, session):
    dewi = console.signed_in("dewi", "supervisor")
    assert dewi.get("/console/floor").status_code == 200
    admin = console.signed_in("root", "admin")
    reply = _act(admin, session, "dewi", "role", {"role": "agent"})
    assert reply.status_code == 302
    assert "dewi is now Agent" in _flash(admin)
    assert dewi.get("/console/floor").status_code == 403
    assert dewi.get("/console/tickets").status_code == 200  # still signed in, as an agent
    changes = _audit(session, "change_role")
    assert [(c.subject, c.detail) for c in changes] == [("user:dewi", "supervisor -> agent")]


def test_a_deactivated_user_is_signed_out_and_cannot_sign_in_until_reactivated(
        console, session):
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE, available=True)
    sari = console.signed_in("sari", "agent", agent_id=agent.id)
    assert sari.get("/console/tickets").status_code == 200
    admin = console.signed_in("root", "admin")
    assert _act(admin, session, "sari", "deactivate").status_code == 302
    assert "sari is deactivated" in _flash(admin)
    bounced = sari.get("/console/tickets")
    assert bounced.status_code == 302 and "/console/login" in bounced.headers["Location"]
    assert _login(console.client(), "sari", PASSWORD).status_code == 401
    session.expire_all()
    routed = session.get(Agent, agent.id)
    assert routed.presence == "away" and routed.available is False  # no calls to her phone

    assert _act(admin, session, "sari", "reactivate").status_code == 302
    assert "sari is active again" in _flash(admin)
    assert _login(console.client(), "sari", PASSWORD).status_code == 302
    assert [a.subject for a in _audit(session, "deactivate_user")] == ["user:sari"]
    assert [a.subject for a in _audit(session, "reactivate_user")] == ["user:sari"]


def test_unlocking_lets_a_locked_out_user_sign_in(console, session):
    console.user("sari", "agent")
    sari = console.client()
    for _ in range(5):
        _login(sari, "sari", "wrong password!")
    assert _login(sari, "sari", PASSWORD).status_code == 401
    admin = console.signed_in("root", "admin")
    page = admin.get(_page_of(session, "sari")).get_data(as_text=True)
    assert "Locked after too many wrong passwords" in page and ">Unlock</button>" in page
    assert _act(admin, session, "sari", "unlock").status_code == 302
    assert "sari is unlocked" in _flash(admin)
    assert _login(sari, "sari", PASSWORD).status_code == 302
    assert [a.subject for a in _audit(session, "unlock_user")] == ["user:sari"]


def test_a_new_password_ends_the_open_session_and_only_the_new_one_works(console, session):
    sari = console.signed_in("sari", "agent")
    admin = console.signed_in("root", "admin")
    short = _act(admin, session, "sari", "password", {"password": "short"})
    assert short.status_code == 302
    assert "Password not changed: password must have at least 10 characters" in _flash(admin)
    assert sari.get("/console/tickets").status_code == 200  # nothing changed yet

    assert _act(admin, session, "sari", "password", {"password": NEW_PASSWORD}).status_code == 302
    assert "New password set for sari" in _flash(admin)
    bounced = sari.get("/console/tickets")
    assert bounced.status_code == 302 and "/console/login" in bounced.headers["Location"]
    assert _login(console.client(), "sari", PASSWORD).status_code == 401
    assert _login(console.client(), "sari", NEW_PASSWORD).status_code == 302
    resets = _audit(session, "reset_password")
    assert [(r.actor, r.subject) for r in resets] == [("user:root", "user:sari")]


def test_an_admin_changing_their_own_password_signs_in_again(console, session):
    admin = console.signed_in("root", "admin")
    reply = _act(admin, session, "root", "password", {"password": NEW_PASSWORD})
    assert reply.status_code == 302 and reply.headers["Location"] == "/console/login"
    login = admin.get("/console/login").get_data(as_text=True)
    assert "Your password is changed: sign in with the new one." in login
    assert _login(admin, "root", NEW_PASSWORD).status_code == 302


def test_no_self_deactivation_and_the_last_active_admin_stays(console, session):
    root = console.signed_in("root", "admin")
    page = root.get(_page_of(session, "root")).get_data(as_text=True)
    assert "You cannot deactivate yourself." in page and ">Deactivate</button>" not in page
    assert _act(root, session, "root", "deactivate").status_code == 302
    assert "Not deactivated: you cannot deactivate yourself; ask another admin." in _flash(root)
    assert _act(root, session, "root", "role", {"role": "supervisor"}).status_code == 302
    assert ("Role not changed: root is the last active admin; make another admin first."
            in _flash(root))
    root_user = _user(session, "root")
    assert root_user.active and root_user.role == "admin"
    assert root.get(PAGE).status_code == 200

    # With a second admin, root may step down (and then loses the page) …
    ada = console.signed_in("ada", "admin")
    stepped = _act(root, session, "root", "role", {"role": "supervisor"})
    assert stepped.status_code == 302 and stepped.headers["Location"] == "/console/"
    assert root.get(PAGE).status_code == 403
    # … and ada, now the last active admin, cannot demote herself either.
    assert _act(ada, session, "ada", "role", {"role": "qa"}).status_code == 302
    assert "ada is the last active admin" in _flash(ada)
    assert _user(session, "ada").role == "admin"
    assert _audit(session, "deactivate_user") == []


def test_linking_an_agent_gives_the_user_the_presence_switch(console, session):
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE)
    session.commit()
    sari = console.signed_in("sari", "agent")
    assert "Set presence" not in sari.get("/console/tickets").get_data(as_text=True)
    admin = console.signed_in("root", "admin")
    linked = _act(admin, session, "sari", "agent", {"agent_id": str(agent.id)})
    assert linked.status_code == 302
    assert "sari is linked to agent Sari." in _flash(admin)
    html = sari.get("/console/tickets").get_data(as_text=True)
    assert '<label for="presence-choice">Presence</label>' in html and "Set presence" in html
    assert [a.detail for a in _audit(session, "link_agent")] == [f"agent:{agent.id}"]

    # The agent is sari's: another user cannot have it (the option is disabled, the POST refused).
    console.user("dewi", "agent")
    page = admin.get(_page_of(session, "dewi")).get_data(as_text=True)
    assert f'<option value="{agent.id}" disabled>Sari (+62******0001) — linked to sari' in page
    refused = _act(admin, session, "dewi", "agent", {"agent_id": str(agent.id)})
    assert refused.status_code == 302
    assert "Agent not linked: agent Sari is linked to sari already." in _flash(admin)
    assert _user(session, "dewi").agent_id is None

    assert _act(admin, session, "sari", "agent", {"agent_id": ""}).status_code == 302
    assert "Set presence" not in sari.get("/console/tickets").get_data(as_text=True)


def test_an_agent_is_created_on_a_phone_or_a_client_identity_and_linked(console, session):
    console.user("sari", "agent")
    console.user("dewi", "agent")
    admin = console.signed_in("root", "admin")
    made = _act(admin, session, "sari", "agent/new", {"name": "Sari", "phone": "0811-000-0001",
                                                      "client_identity": ""})
    assert made.status_code == 302
    assert "Agent Sari (+62******0001) added and linked to sari." in _flash(admin)
    agent = session.scalars(select(Agent).where(Agent.name == "Sari")).one()
    assert agent.phone == AGENT_PHONE and _user(session, "sari").agent_id == agent.id
    assert [a.detail for a in _audit(session, "create_agent")] == ["+62******0001"]

    browser = _act(admin, session, "dewi", "agent/new", {"name": "Dewi", "phone": "",
                                                         "client_identity": "dewi"})
    assert browser.status_code == 302
    assert _user(session, "dewi").agent_id is not None

    console.user("budi", "agent")
    for data, message in (
            ({"name": "Budi", "phone": "12345", "client_identity": ""}, "phone number: "),
            ({"name": "Budi", "phone": "081100000099", "client_identity": "budi"},
             "give exactly one of a phone number or a client identity"),
            ({"name": "Sari", "phone": "", "client_identity": "sari2"},
             "an agent named &#39;Sari&#39; exists already"),
            ({"name": "Budi", "phone": "", "client_identity": "b" * 121},
             "name and identity have at most 120 characters"),
            ({"name": "   ", "phone": "", "client_identity": "budi"}, "the agent needs a name")):
        reply = _act(admin, session, "budi", "agent/new", data)
        assert reply.status_code == 400
        html = reply.get_data(as_text=True)
        assert "Agent not added: " + message in html
        assert f'value="{data["name"].strip()}"' in html
        if data["phone"]:
            assert f'value="{data["phone"]}"' in html
    assert _user(session, "budi").agent_id is None
    assert session.scalars(select(Agent).where(Agent.name == "Budi")).first() is None


def _count_users(session, username: str) -> int:
    return len(session.scalars(select(User).where(User.username == username)).all())


def _user_routes(console) -> list[tuple[str, str]]:
    """Every route of this page (method, path with user id 1), read off the app itself."""
    routes = []
    for rule in console.app.url_map.iter_rules():
        if rule.endpoint.startswith("console.user_"):
            path = rule.rule.replace("<int:user_id>", "1")
            routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


@pytest.mark.parametrize("role", ["agent", "supervisor", "qa"])
def test_everyone_but_an_admin_is_refused_every_route(console, session, role):
    client = console.signed_in("someone", role)
    routes = _user_routes(console)
    assert len(routes) == 10
    token = csrf_from(client.get("/console/templates").get_data(as_text=True))
    for method, path in routes:
        data = {"csrf_token": token, "role": "admin", "username": "x", "password": NEW_PASSWORD,
                "agent_id": "", "name": "X", "client_identity": "x"}
        reply = client.get(path) if method == "GET" else client.post(path, data=data)
        assert reply.status_code == 403, (method, path)
    user = _user(session, "someone")
    assert user.role == role and user.active and _count_users(session, "x") == 0
    assert "People" not in client.get("/console/templates").get_data(as_text=True)
    stranger = console.client().get(PAGE)
    assert stranger.status_code == 302 and "/console/login" in stranger.headers["Location"]


def test_a_form_without_its_csrf_token_changes_nothing(console, session):
    console.user("sari", "agent")
    admin = console.signed_in("root", "admin")
    page = _page_of(session, "sari")
    for action, data in (("deactivate", {}), ("password", {"password": NEW_PASSWORD}),
                         ("role", {"role": "admin"})):
        assert admin.post(f"{page}/{action}", data=data).status_code == 400
    assert admin.post(PAGE, data={"username": "x", "role": "admin",
                                  "password": NEW_PASSWORD}).status_code == 400
    sari = _user(session, "sari")
    assert sari.active and sari.role == "agent" and _count_users(session, "x") == 0
    assert _login(console.client(), "sari", PASSWORD).status_code == 302


def test_the_audit_never_holds_a_password(console, session):
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE)
    session.commit()
    admin = console.signed_in("root", "admin")
    post_form(admin, PAGE, PAGE, {"username": "budi", "role": "agent", "password": NEW_PASSWORD})
    _act(admin, session, "budi", "password", {"password": "yet another password"})
    _act(admin, session, "budi", "password", {"password": "short"})
    _act(admin, session, "budi", "agent", {"agent_id": str(agent.id)})
    _act(admin, session, "budi", "unlock")
    _act(admin, session, "budi", "deactivate")
    session.expire_all()
    rows = session.scalars(select(AuditEntry)).all()
    actions = {row.action for row in rows if row.actor == "user:root"}
    assert {"view_users", "view_user", "create_user", "reset_password", "link_agent",
            "unlock_user", "deactivate_user"} <= actions
    for row in rows:
        text = " ".join(filter(None, (row.actor, row.action, row.subject, row.detail)))
        for secret in (NEW_PASSWORD, "yet another password", "short", PASSWORD, AGENT_PHONE):
            assert secret not in text, row.action
