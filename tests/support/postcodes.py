"""A postcodes.io-compatible API on loopback, answering from a table of postcodes.

Answers have the shape of the real service's `/postcodes/<postcode>`: `result.codes`
carries the GSS codes (`admin_county` is the pseudo code E99999999 outside two-tier
areas), an unknown postcode is a 404 with `{"status": 404, "error": ...}`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response


def answer(postcode: str, district: tuple[str, str], county: tuple[str, str] | None = None,
           ward: tuple[str, str] = ("", "")) -> dict[str, Any]:  # fmt: skip
    return {
        "status": 200,
        "result": {
            "postcode": postcode,
            "admin_district": district[1],
            "admin_county": county[1] if county else None,
            "admin_ward": ward[1],
            "codes": {
                "admin_district": district[0],
                "admin_county": county[0] if county else "E99999999",
                "admin_ward": ward[0],
            },
        },
    }


# Real postcodes and their councils (GSS codes as in digest/data/councils.csv).
WIGAN = answer("WN1 1YN", ("E08000010", "Wigan"), ward=("E05000849", "Wigan Central"))
BURY_ST_EDMUNDS = answer(
    "IP33 3YU", ("E07000245", "West Suffolk"), ("E10000029", "Suffolk"), ("E05012345", "Abbeygate")
)


@dataclass
class FakePostcodes:
    table: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"WN11YN": WIGAN, "IP333YU": BURY_ST_EDMUNDS}
    )
    delay: float = 0.0
    garbage: bool = False
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = ThreadedWSGIServer("127.0.0.1", 0, self._app, handler=_Quiet)
        self.port = self.server.server_port
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(request.path)
        if self.delay:
            time.sleep(self.delay)
        if self.garbage:
            response = Response("{not json", content_type="application/json")
        else:
            key = request.path.rsplit("/", 1)[-1].replace(" ", "").replace("%20", "").upper()
            found = self.table.get(key)
            if found is None:
                body = {"status": 404, "error": "Postcode not found"}
                response = Response(json.dumps(body), 404, content_type="application/json")
            else:
                response = Response(json.dumps(found), content_type="application/json")
        return response(environ, start_response)


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass
