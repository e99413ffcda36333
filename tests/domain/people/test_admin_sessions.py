"""The admin's actions end a person's console sessions themselves (the rule lives with the
action): a new password or a deactivation ends every open session in the store the web side
keeps, a refused change ends none, and an unreachable store raises before anything is
committed (the console answers 503 and rolls back)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis

from callcenter.people import admin, users
from tests.support.private_redis import private_redis
from webhooks.console.sessions import ConsoleSessions, SessionStoreDown

SHIFT = timedelta(hours=10)


@pytest.fixture
def store(redis_conn: Redis) -> ConsoleSessions:
    return ConsoleSessions(redis_conn, "", SHIFT)


def test_a_new_password_ends_every_open_session_of_that_person_only(session, store):
    sari = users.create_user(session, "sari", "a long enough password", "agent")
    dewi = users.create_user(session, "dewi", "a long enough password", "agent")
    phone, desk, other = store.start(sari.id), store.start(sari.id), store.start(dewi.id)
    admin.reset_password(session, sari, "another long password", actor="user:adi",
                         sessions=store)
    assert store.user_id(phone) is None and store.user_id(desk) is None
    assert store.user_id(other) == dewi.id
    after = store.start(sari.id)  # signing in with the new password works again
    assert store.user_id(after) == sari.id


def test_a_refused_password_ends_nothing(session, store):
    sari = users.create_user(session, "sari", "a long enough password", "agent")
    open_session = store.start(sari.id)
    with pytest.raises(users.UserError):
        admin.reset_password(session, sari, "short", actor="user:adi", sessions=store)
    assert store.user_id(open_session) == sari.id


def test_deactivation_ends_the_sessions_and_reactivation_does_not_revive_them(session, store):
    root = users.create_user(session, "adi", "a long enough password", "admin")
    sari = users.create_user(session, "sari", "a long enough password", "agent")
    open_session = store.start(sari.id)
    assert admin.set_active(session, sari, False, by=root, actor="user:adi", sessions=store)
    assert store.user_id(open_session) is None
    admin.set_active(session, sari, True, by=root, actor="user:adi", sessions=store)
    assert store.user_id(open_session) is None


def test_without_the_store_the_change_raises_before_anything_is_committed(session):
    sari = users.create_user(session, "sari", "a long enough password", "agent")
    with private_redis() as server:
        store = ConsoleSessions(Redis.from_url(server.url, socket_connect_timeout=1), "", SHIFT)
        store.start(sari.id)
        server.stop()
        with pytest.raises(SessionStoreDown):
            admin.reset_password(session, sari, "another long password", actor="user:adi",
                                 sessions=store)
