"""Reading a JSON request body: a clear 400 for anything else (never a 500)."""

from __future__ import annotations

from typing import Any

from flask import abort, request


def json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    return body


def text(body: dict[str, Any], field: str, *, limit: int = 300, required: bool = True) -> str:
    """A string field, trimmed; 400 when required and empty, or longer than ``limit``."""
    value = body.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        abort(400, f"{field} is required (a non-empty string)")
    if len(value) > limit:
        abort(400, f"{field} has at most {limit} characters")
    return value.strip()


def flag(body: dict[str, Any], field: str, default: bool) -> bool:
    value = body.get(field, default)
    if not isinstance(value, bool):
        abort(400, f"{field} must be true or false")
    return value


def optional_json_object() -> dict[str, Any]:
    """The body's fields, or none when there is no JSON body; 400 for a JSON non-object."""
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    return body
