"""Pages for customers (issue 5, issue 6): the complaint procedure and a status look-up."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__)
