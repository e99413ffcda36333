"""Engine and sessions, opened lazily per process.

gunicorn and RQ fork: a connection pool shared across a fork hands one socket to two
processes. The engine is therefore created on first use *in the process that uses it* and
re-created when the pid changes.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, exc, func
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

T = TypeVar("T")
_lock = threading.Lock()
_engines: dict[tuple[int, str], Engine] = {}
MAX_ROW_ID = 2**31 - 1  # INTEGER primary keys (PostgreSQL's int4): no row has a larger id


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """WAL lets the web and the worker read while one writes; foreign keys are off by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL is safe against application crashes; only a power loss can lose
    # the last commits (production runs on PostgreSQL).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """A fresh engine for ``url`` (SQLite gets WAL and a busy timeout, PostgreSQL a pool)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=5, max_overflow=10)
    event.listen(engine, "checkout", _refuse_closed_by_server)
    return engine


def _refuse_closed_by_server(dbapi_connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
    """The pool's check before lending a PostgreSQL connection, without a round trip.

    A pooled connection sits idle between requests, so its socket has nothing to read
    unless the server has written to it since: a restarted or stopped PostgreSQL sends its
    "terminating connection" error and closes the socket, which then reads as ready (as
    does a reset). Such a connection is refused here and the pool opens a fresh one
    (SQLAlchemy retries a checkout that raises ``DisconnectionError``). ``pool_pre_ping``
    found the same with a ``SELECT 1`` round trip on every request; the rare harmless
    message (a notice) only costs a reconnect.
    """
    try:
        fileno = dbapi_connection.fileno()
    except Exception as error:  # closed on our side already
        raise exc.DisconnectionError("connection closed") from error
    readable, _, _ = select.select([fileno], [], [], 0)
    if readable:
        raise exc.DisconnectionError("the server closed the connection or wrote to it")


def get_engine(url: str) -> Engine:
    """The engine of this process for ``url``; a forked child gets its own."""
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                engine = make_engine(url)
                _engines[key] = engine
    return engine


def dispose_all() -> None:
    """Close this process's pools (tests and shutdown)."""
    with _lock:
        for (pid, _url), engine in list(_engines.items()):
            if pid == os.getpid():
                engine.dispose()
        _engines.clear()
        _factories.clear()


_factories: dict[int, sessionmaker[Session]] = {}


def session_factory(url: str) -> sessionmaker[Session]:
    """One sessionmaker per engine (building one costs ~80 µs: not per request)."""
    engine = get_engine(url)
    factory = _factories.get(id(engine))
    if factory is None or factory.kw.get("bind") is not engine:
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        _factories[id(engine)] = factory
    return factory


@contextmanager
def session_scope(url: str, *, one_connection: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error, always close.

    ``one_connection`` pins a single pooled connection for every transaction of the scope
    (a job commits several times): the pool is checked out, and pinged, once.
    """
    with ExitStack() as stack:
        if one_connection:
            connection = stack.enter_context(get_engine(url).connect())
            session = Session(bind=connection, expire_on_commit=False,
                              join_transaction_mode="rollback_only")
        else:
            session = session_factory(url)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def insert_unless_exists(session: Session, model: type[Any], *unique: str) -> Any:
    """``INSERT … ON CONFLICT (unique) DO NOTHING`` for this session's database (PostgreSQL or
    SQLite, both since 3.35 with RETURNING): one statement, where a savepoint around an
    insert that may collide costs three round trips and an IntegrityError."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(model).on_conflict_do_nothing(index_elements=list(unique))


def adopt_row(session: Session, entity: type[T], values: Mapping[str, Any]) -> T:
    """The ORM object for a row this transaction read or wrote through Core (``values``: its
    columns by name, the primary key ``id`` among them), as if the session had loaded it:
    in the identity map with nothing pending, so a later change is one UPDATE of what
    changed. Columns not given load on first use, relationships lazily as usual. Building
    it costs ~60 µs, where a SELECT of the same row costs a round trip (~300 µs of CPU) and
    an ORM INSERT's unit of work several times that. An object the session already holds
    for that row wins (its state may be newer)."""
    held = session.identity_map.get(session.identity_key(entity, values["id"]))
    if held is not None:
        return held  # type: ignore[no-any-return]
    mapper = entity.__mapper__  # type: ignore[attr-defined]
    if not mapper.configured:
        configure_mappers()  # the first ORM use of the process may be this one
    obj = mapper.class_manager.new_instance()
    for name, value in values.items():
        set_committed_value(obj, name, value)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj  # type: ignore[no-any-return]


class SequenceBlocks:
    """Ids drawn from a PostgreSQL sequence ``block`` at a time, kept per process and database.

    A row whose other columns need its id (a ticket's number) must know it before its INSERT;
    a ``nextval`` per row is a round trip of its own (~0.3 ms of CPU). Drawn here, a block of
    ids costs one round trip: the values are the sequence's, so no other process or default
    ever gets them, and an id a process never used (it exited) is a gap, as a rolled-back
    transaction leaves one. Ids are then unique but no longer in the order rows were written:
    order by the time a row carries, never by its id. A sequence set back under running
    processes (a database restored from a backup) needs them restarted, as it would any
    process holding ids.
    """

    def __init__(self, table: str, column: str = "id", block: int = 20):
        sequence = func.pg_get_serial_sequence(table, column)
        self._draw = sql_select(func.nextval(sequence)).select_from(
            func.generate_series(1, block))
        self._lock = threading.Lock()
        self._free: dict[tuple[int, Any], list[int]] = {}

    def take(self, session: Session) -> int:
        """The next id for this process, drawing a block in ``session``'s transaction when
        none is left (the draw is not undone by a rollback, as ``nextval`` never is)."""
        key = (os.getpid(), session.get_bind().engine.url)
        with self._lock:
            free = self._free.get(key)
            if free:
                return free.pop()
        drawn = sorted(session.scalars(self._draw).all(), reverse=True)
        first = drawn.pop()
        with self._lock:
            self._free.setdefault(key, []).extend(drawn)
        return first
