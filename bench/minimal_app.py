"""The reference for the web benchmark: the smallest useful Flask view."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"
