"""The hotline's words, from a JSON file the business edits (P1.4: answers without code change).

A prompt is rendered into :class:`Speech` segments so that ticket numbers and virtual-account
numbers are read digit by digit while the rest is spoken as a sentence.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CONTENT_DIR = Path(__file__).with_name("content")  # the words the business edits
DEFAULT_PATH = CONTENT_DIR / "ivr.json"
LANGUAGES = ("id", "en")
DIGIT_FIELDS = frozenset({"ticket", "va", "digits"})
_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Speech:
    """One stretch of speech; ``digits`` ones are read a character at a time. ``lang`` set:
    spoken in that language's voice whatever the call's language ("For English, press 2"
    in the English voice, so an English speaker recognises their choice)."""

    text: str
    digits: bool = False
    lang: str | None = None


class ContentError(ValueError):
    """The content file is missing a prompt or uses an unknown placeholder."""


class Content:
    """Prompts and answers per language, with the voice to speak them in."""

    def __init__(self, data: dict[str, Any]):
        self._data = data
        for lang in LANGUAGES:
            if lang not in data:
                raise ContentError(f"content has no language {lang!r}")
        missing = set(data["id"]) ^ set(data["en"])
        if missing:
            raise ContentError(f"prompts not in both languages: {sorted(missing)}")
        if data.get("agent_language", "id") not in LANGUAGES:
            raise ContentError(f"agent_language must be one of {LANGUAGES}")

    @classmethod
    def load(cls, path: Path | None = None) -> Content:
        return _load(str(path or DEFAULT_PATH))

    def voice(self, lang: str) -> dict[str, str]:
        return self._data["voices"][lang]

    @property
    def agent_language(self) -> str:
        """What agents hear the call offer and the whisper in (the floor's language)."""
        return str(self._data.get("agent_language", "id"))

    def raw(self, lang: str, key: str) -> Any:
        try:
            return self._data[lang][key]
        except KeyError as exc:
            raise ContentError(f"no prompt {key!r} in {lang!r}") from exc

    def text(self, lang: str, key: str, **fields: Any) -> str:
        """A prompt as plain text (SMS bodies, summaries)."""
        return _format(self.raw(lang, key), fields)

    def speech(self, lang: str, key: str, **fields: Any) -> list[Speech]:
        return render(self.raw(lang, key), fields)

    def lookup(self, lang: str, table: str, key: str | None) -> str | None:
        """An entry of a table such as ``products`` or ``statuses``; None when absent."""
        if key is None:
            return None
        value = self._data[lang].get(table, {}).get(key)
        return value if isinstance(value, str) else None


@lru_cache(maxsize=8)
def _load(path: str) -> Content:
    with open(path, encoding="utf-8") as handle:
        return Content(json.load(handle))


def _format(template: str, fields: dict[str, Any]) -> str:
    try:
        return string.Formatter().vformat(template, (), fields)
    except (KeyError, IndexError) as exc:
        raise ContentError(f"unknown placeholder {exc} in {template!r}") from exc


def render(template: str, fields: dict[str, Any]) -> list[Speech]:
    """One stretch of speech; digit fields (ticket, VA) are spaced so they are read one by one.

    Spaced digits work with every text-to-speech voice, where SSML ``say-as`` does not.
    """
    spoken = {k: (" ".join(str(v)) if k in DIGIT_FIELDS else v) for k, v in fields.items()}
    for name in _FIELD.findall(template):
        if name in DIGIT_FIELDS and name not in fields:
            raise ContentError(f"unknown placeholder {name!r} in {template!r}")
    return [Speech(_format(template, spoken))]


def plain(segments: list[Speech]) -> str:
    """What a transcript shows: digits spaced as they are heard."""
    return " ".join(" ".join(s.text) if s.digits else s.text for s in segments)
