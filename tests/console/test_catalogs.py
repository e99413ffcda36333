"""The catalogs keep up with the code: CI fails on a missing or stale translation.

Staff read the console in Bahasa Indonesia first, so every message the code and templates mark
needs a real Indonesian translation (not empty, not fuzzy, with the same ``%(fields)s``), and
the catalogs must hold exactly what ``pybabel extract`` finds today (``scripts/translations
update`` brings them up to date; the new messages are then translated by hand).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.support import Translations

from callcenter import labels
from webhooks.i18n import compile_catalogs

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "webhooks" / "translations"


def read(lang: str) -> Catalog:
    with (CATALOGS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def keys(catalog: Catalog) -> set[tuple[str | None, str]]:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """What the code and templates mark today, extracted as ``scripts/translations`` does."""
    template = tmp_path_factory.mktemp("catalogs") / "messages.pot"
    subprocess.run([str(ROOT / "scripts" / "translations"), "extract", str(template)],
                   cwd=ROOT, check=True, capture_output=True)
    with template.open("rb") as handle:
        return read_po(handle)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_catalogs_hold_exactly_the_messages_in_the_code(extracted, lang):
    catalog = read(lang)
    missing = keys(extracted) - keys(catalog)
    stale = keys(catalog) - keys(extracted)
    assert not missing, f"not in the {lang} catalog (run scripts/translations update): " \
                        f"{sorted(missing, key=str)[:20]}"
    assert not stale, f"no longer in the code, still in the {lang} catalog (run " \
                      f"scripts/translations update): {sorted(stale, key=str)[:20]}"


def test_every_message_has_an_indonesian_translation():
    catalog = read("id")
    untranslated = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s and s.strip() for s in strings):
            untranslated.append(message.id)
    assert not untranslated, f"{len(untranslated)} messages lack an Indonesian translation " \
                             f"(or are fuzzy): {untranslated[:20]}"


@pytest.mark.parametrize("lang", ["id", "en"])
def test_translations_keep_the_fields_of_their_message(lang):
    """``%(number)s`` in the English must be in the translation, or the page breaks."""
    problems = [(message.id, [str(e) for e in errors])
                for message, errors in read(lang).check() if errors]
    assert not problems, problems


def test_every_label_of_a_code_is_translated_under_its_context():
    """A label's context must be a literal in the code, or extraction loses it and the
    Indonesian page shows English."""
    catalog = read("id")
    for label in labels.every_label():
        message = catalog.get(label.msgid, context=label.context)
        assert message is not None and message.string, label


def test_the_app_compiles_the_catalogs_a_fresh_clone_lacks(tmp_path):
    """No ``.mo`` in git: the app writes them when it starts, and again when a ``.po`` is
    newer (a pull that changed a translation)."""
    source = tmp_path / "translations"
    shutil.copytree(CATALOGS, source, ignore=shutil.ignore_patterns("*.mo"))
    assert compile_catalogs(source) == source
    mo = source / "id" / "LC_MESSAGES" / "messages.mo"
    assert mo.is_file() and (source / "en" / "LC_MESSAGES" / "messages.mo").is_file()
    loaded = Translations.load(str(source), ["id"])
    assert loaded.gettext("Sign out") == "Keluar"
    assert loaded.pgettext("ticket status", "Open") == "Terbuka"

    po = source / "id" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Keluar"', 'msgstr "Log keluar"'),
                  encoding="utf-8")
    os.utime(po, (mo.stat().st_mtime + 5, mo.stat().st_mtime + 5))
    compile_catalogs(source)
    assert Translations.load(str(source), ["id"]).gettext("Sign out") == "Log keluar"
