"""Council names, short names, former names and towns, searched with typo tolerance.

The bundled `data/places.csv` (see data/SOURCES.md) names each council's towns and
neighbourhoods by the council's GSS code, and the councils that were merged into today's.
Matching: exact names first (a town in several councils goes first where it names more
neighbourhoods), then rapidfuzz's similarity for misspellings ("Wigen" → Wigan).
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import io
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

# A fuzzy match must be at least this similar (0-100): "Wigen"/"Wigan" is 80.
FUZZY_CUTOFF = 78.0
MAX_QUERY = 100


@dataclass(frozen=True)
class Place:
    name: str
    gss_code: str
    county_gss_code: str
    kind: str  # "council", "town" or "former"
    weight: int


@dataclass(frozen=True)
class PlaceMatch:
    gss_code: str
    why: str  # "Leigh", "formerly Forest Heath", "" for the council's own name
    score: float


@functools.cache
def bundled_places() -> tuple[Place, ...]:
    source = importlib.resources.files("digest") / "data" / "places.csv"
    rows = csv.DictReader(io.StringIO(source.read_text(encoding="utf-8"), newline=""))
    return tuple(
        Place(
            r["place"].strip(),
            r["gss_code"].strip(),
            r["county_gss_code"].strip(),
            r["kind"].strip(),
            int(r["weight"] or 1),
        )
        for r in rows
    )


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower().replace("&", " and ")).strip()


class PlaceIndex:
    """Built once per process from the council list and the bundled places."""

    def __init__(self, councils: list[tuple[str, str, str]]) -> None:
        # councils: (gss_code, name, short_name)
        entries: list[Place] = []
        for gss, name, short in councils:
            entries.append(Place(name, gss, "", "council", 100))
            if short and short != name:
                entries.append(Place(short, gss, "", "council", 100))
        known = {gss for gss, _, _ in councils}
        entries += [p for p in bundled_places() if p.gss_code in known]
        self.entries = entries
        self.keys = [_key(p.name) for p in entries]
        self._exact: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            self._exact.setdefault(key, []).append(i)
        self.known = known

    def find(self, query: str, limit: int = 10, *, fuzzy: bool = True) -> list[PlaceMatch]:
        """Councils for `query`, best first, each at most once; `fuzzy=False` for exact
        names only (cheap: a dictionary look-up)."""
        key = _key(query[:MAX_QUERY])
        if len(key) < 3:
            return []
        scored: list[tuple[float, int, Place]] = []
        for i in self._exact.get(key, []):
            place = self.entries[i]
            scored.append((200.0, place.weight, place))
        if not scored and fuzzy:
            for _choice, score, i in process.extract(
                key,
                self.keys,
                scorer=fuzz.ratio,
                processor=utils.default_process,
                limit=limit * 3,
                score_cutoff=FUZZY_CUTOFF,
            ):
                place = self.entries[i]
                scored.append((float(score), place.weight, place))
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        found: dict[str, PlaceMatch] = {}
        for score, _weight, place in scored:
            for gss, why in _councils_of(place):
                if gss in self.known and gss not in found:
                    found[gss] = PlaceMatch(gss, why, score)
        return list(found.values())[:limit]


def _councils_of(place: Place) -> list[tuple[str, str]]:
    if place.kind == "council":
        return [(place.gss_code, "")]
    if place.kind == "former":
        return [(place.gss_code, f"formerly {place.name}")]
    both = [(place.gss_code, place.name)]
    if place.county_gss_code:
        both.append((place.county_gss_code, place.name))
    return both
