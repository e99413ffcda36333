"""The pages' language: Bahasa Indonesia first, English by choice (CONTRACT "Console language").

Flask-Babel over the gettext catalogs in ``webhooks/translations/<lang>/LC_MESSAGES`` (msgids
in English; ``scripts/translations`` extracts, updates and compiles them, and
``tests/console/test_catalogs.py`` fails CI on a missing or stale translation).

Which language a page is in (:func:`select_language`):

1. the public pages (``/``, ``/status``): ``?lang=id|en`` when given (their links carry it);
2. a signed-in console user: their own choice (``users.language``, the console's
   "Bahasa / Language" switch, :mod:`webhooks.console.language`);
3. anyone else: English when the browser's ``Accept-Language`` prefers it over Indonesian;
4. otherwise Indonesian.

Templates translate with ``_()``/``ngettext()``/``pgettext()`` and show codes and times through
the filters below, which no view's context can shadow: ``value|label("channel")`` (the one
mapping, :mod:`callcenter.labels`), ``msg|tr`` (a domain :class:`~callcenter.i18n.Msg` or
``Label``), ``moment|when`` / ``|when("short")``, ``day|day``, ``amount|rupiah``,
``seconds|duration``, ``size|filesize``, ``path|menu_steps``, ``reason|reason``,
``callback.last_error|outcome``.

Views translate their flash messages with :func:`gettext` (imported from here), and a refusal
the domain raised with :func:`translate`::

    from webhooks.i18n import gettext, translate
    flash(gettext("Ticket %(number)s is resolved.", number=ticket.number), "success")
    except actions.ActionRefused as exc:
        flash(translate(exc), "error")

``translate`` renders a :class:`~callcenter.i18n.Msg` (or ``Label``) in the page's language and
anything else as it is, so a domain message not yet marked still shows (in English).

Compiled catalogs (``.mo``) are not in git: :func:`compile_catalogs` builds them from the
``.po`` files when the app starts and they are missing or older (a fresh clone, ``scripts/dev``,
CI, a deployment), beside the ``.po`` files or, on a read-only install, in a temporary folder.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request, session
from flask_babel import Babel, get_locale, gettext, lazy_gettext, ngettext, pgettext, refresh

from callcenter import display, labels
from callcenter.i18n import DEFAULT_LANGUAGE, LANGUAGES, Label, Msg, language_or_default

__all__ = ["gettext", "lazy_gettext", "ngettext", "pgettext", "refresh", "translate"]

log = logging.getLogger(__name__)
TRANSLATIONS = Path(__file__).with_name("translations")
DOMAIN = "messages"
# What the switch offers, each in its own language (a reader of neither still finds theirs).
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}


def compile_catalogs(source: Path = TRANSLATIONS) -> Path:
    """The folder holding up-to-date ``.mo`` files for every ``.po`` under ``source``."""
    try:
        _compile_into(source, source)
        return source
    except OSError as exc:
        target = Path(tempfile.mkdtemp(prefix="callcenter-translations-"))
        log.warning("translations folder not writable (%s); compiled catalogs into %s",
                    type(exc).__name__, target)
        _compile_into(source, target)
        return target


def _compile_into(source: Path, target: Path) -> None:
    for po_path in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parts[-3])
        temporary = mo_path.with_name(f".{mo_path.name}.{os.getpid()}")
        with temporary.open("wb") as handle:
            write_mo(handle, catalog)  # fuzzy entries left out: they are not translations
        os.replace(temporary, mo_path)


def select_language() -> str:
    """The request's language (see the module docstring for the order)."""
    if request.blueprint == "public":
        asked = (request.args.get("lang") or "").lower()
        if asked in LANGUAGES:
            return asked
    elif "uid" in session:
        from webhooks.console.auth import signed_in_user  # the console imports this module
        from webhooks.console.sessions import SessionStoreDown

        try:
            user = signed_in_user()
        except SessionStoreDown:  # the page that says so speaks the browser's language
            user = None
        if user is not None:
            return language_or_default(user.language)
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    """``id`` or ``en``: the page's language (Indonesian outside a request)."""
    locale = get_locale()
    return language_or_default(locale.language if locale is not None else None)


def translate(value: Any) -> Any:
    """A :class:`Msg`, :class:`Label` or exception carrying one, in the page's language;
    anything else unchanged."""
    if isinstance(value, BaseException):
        first = value.args[0] if value.args else None
        return translate(first) if isinstance(first, (Msg, Label)) else str(value)
    if isinstance(value, Label):
        return pgettext(value.context, value.msgid)
    if isinstance(value, Msg):
        if not value.msgid:
            return ""
        fields = {name: translate(field) for name, field in value.fields.items()}
        return gettext(value.msgid, **fields) if fields else gettext(value.msgid)
    return value


def code_label(code: Any, kind: str) -> str:
    """``ticket.status|label("ticket status")``: the code's word in the page's language."""
    if code is None or code == "":
        return ""
    found = labels.label(kind, str(code))
    return translate(found) if found is not None else labels.humanised(str(code))


def _timezone() -> str:
    from webhooks.context import settings

    return settings().timezone


def when(value: datetime | None, length: str = "full", empty: str = "") -> str:
    return display.local_time(value, _timezone(), length, empty=empty,
                              language=current_language())


def day(value: date | datetime | None, length: str = "full") -> str:
    if isinstance(value, datetime):
        from zoneinfo import ZoneInfo

        value = value.astimezone(ZoneInfo(_timezone())).date()
    return display.local_date(value, length, current_language())


def menu_steps(path: list[str] | None) -> list[str]:
    """The IVR menu path as words in the page's language, typed numbers left out."""
    return [translate(step) for step in labels.menu_steps(path)]


def label_choices(kind: str) -> list[tuple[str, str]]:
    """Every code of ``kind`` with its word, in the words' order (a filter's options)."""
    return sorted(((code, translate(found)) for code, found in labels.LABELS[kind].items()),
                  key=lambda pair: pair[1].casefold())


def content_word(table: str, key: str | None) -> str | None:
    """An entry of the business-edited IVR content (``ivr.json``) in the page's language,
    e.g. an application status as the IVR tells it."""
    from webhooks.context import content

    return content().lookup(current_language(), table, key)


def init_app(app: Flask) -> None:
    """Flask-Babel, the catalogs and the template filters for ``app``."""
    folder = compile_catalogs()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(folder)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config["BABEL_DOMAIN"] = DOMAIN
    Babel(app, locale_selector=select_language)
    app.jinja_env.filters.update(
        label=code_label,
        tr=translate,
        when=when,
        day=day,
        rupiah=lambda amount: display.rupiah(amount, current_language()),
        duration=lambda seconds: display.duration_text(seconds, current_language()),
        filesize=lambda size: display.size_text(size, current_language()),
        number=lambda value: display.number(value, current_language()),
        menu_steps=menu_steps,
        reason=lambda value: translate(labels.reason_text(value)),
        outcome=lambda value: translate(labels.callback_outcome(value)),
    )
    app.jinja_env.globals.update(
        page_language=current_language,
        language_names=LANGUAGE_NAMES,
        content_word=content_word,
        label_choices=label_choices,
    )

    @app.context_processor
    def language_switch() -> dict[str, Any]:
        """The signed-in person's language and the other one, for the console's switch."""
        user = g.get("user")
        if user is None:
            return {}
        mine = language_or_default(user.language)
        return {"language_choice": {"current": mine,
                                    "other": "en" if mine == "id" else "id"}}

