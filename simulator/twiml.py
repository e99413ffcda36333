"""Parse TwiML documents into plain verb nodes.

The simulator walks TwiML the way Twilio does, verb by verb, so it only needs a
small tree: name, attributes, text and nested verbs. Parsing errors raise
``TwimlError`` so the caller can play Twilio's "application error" message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(ValueError):
    """The service answered something that is not a TwiML Response document."""


@dataclass
class Verb:
    """One TwiML element (Say, Gather, Number...)."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: list[Verb] = field(default_factory=list)

    def attr(self, name: str, default: str | None = None) -> str | None:
        """Attribute lookup; TwiML attribute names are camelCase."""
        return self.attrs.get(name, default)


def _convert(el: ET.Element) -> Verb:
    text = "".join(el.itertext()) if el.tag in {"Say", "Message", "Body"} else (el.text or "")
    return Verb(
        name=el.tag,
        attrs=dict(el.attrib),
        text=text.strip(),
        children=[_convert(child) for child in el],
    )


def parse_twiml(xml: str | bytes) -> list[Verb]:
    """Return the verbs of a Response document, in order."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise TwimlError(f"TwiML is not well-formed XML: {exc}") from exc
    if root.tag != "Response":
        raise TwimlError(f"TwiML root must be the Response element, got {root.tag!r}")
    return [_convert(child) for child in root]


def message_bodies(xml: str | bytes) -> list[str]:
    """Bodies of the ``<Message>`` verbs of a messaging reply (empty document -> [])."""
    if not xml or not str(xml).strip():
        return []
    bodies = []
    for verb in parse_twiml(xml):
        if verb.name == "Message":
            body = next((c.text for c in verb.children if c.name == "Body"), None)
            bodies.append(body if body is not None else verb.text)
    return bodies
