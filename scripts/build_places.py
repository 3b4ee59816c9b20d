"""Build digest/data/places.csv (towns and former council names) from two open datasets.

    python scripts/build_places.py MSOA_LA_CSV MYSOCIETY_LA_CSV > digest/data/places.csv

MSOA_LA_CSV: drkane/geo-lookups `msoa_la.csv` (ONS lookups and House of Commons Library
MSOA names, Open Government Licence v3.0). MYSOCIETY_LA_CSV: mySociety
uk_local_authority_names_and_codes `data/packages/uk_la_future/uk_local_authorities_future.csv`
(CC BY 4.0). See digest/data/SOURCES.md.
"""

from __future__ import annotations

import csv
import re
import sys

# Words that qualify a neighbourhood rather than name a place: "Leigh North" is Leigh.
QUALIFIERS = {
    "north", "south", "east", "west", "central", "centre", "center", "town", "village",
    "upper", "lower", "inner", "outer", "rural", "urban", "city", "ne", "nw", "se", "sw",
    "mid", "estate", "park", "and",
}  # fmt: skip
# ONS recoded Barnsley and Sheffield in 2024 (boundary change); the council list has the
# codes the councils' own register still uses.
RECODED = {"E08000038": "E08000016", "E08000039": "E08000019"}
SPLIT = re.compile(r"\s*(?:&|,|\band\b|/)\s*")


def places(name: str) -> list[str]:
    found = []
    for part in SPLIT.split(name):
        words = part.split()
        while words and (words[-1].lower() in QUALIFIERS or words[-1].isdigit()):
            words.pop()
        while words and words[0].lower() in QUALIFIERS:
            words.pop(0)
        place = " ".join(words).strip(" -'")
        if len(place) >= 3:
            found.append(place)
    return found


def main(msoa_path: str, la_path: str) -> None:
    rows: dict[tuple[str, str], tuple[str, str, str]] = {}
    # How many neighbourhoods carry the name: Leigh is four of Wigan's, one of Sevenoaks'.
    weight: dict[tuple[str, str], int] = {}
    with open(msoa_path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            lad = RECODED.get(row["LADCD_ACTIVE"].strip(), row["LADCD_ACTIVE"].strip())
            utla = RECODED.get(row["UTLACD"].strip(), row["UTLACD"].strip())
            name = row["MSOAHCLNM"].strip() or row["MSOANM"].strip()
            if not lad or not name:
                continue
            for place in places(name):
                rows.setdefault((place.lower(), lad), (place, lad, utla if utla != lad else ""))
                weight[(place.lower(), lad)] = weight.get((place.lower(), lad), 0) + 1
    with open(la_path, encoding="utf-8-sig", newline="") as f:
        las = list(csv.DictReader(f))
    by_code = {r["local-authority-code"]: r for r in las}
    for r in las:
        if r["current-authority"] == "True" or not r["replaced-by"]:
            continue
        current = by_code.get(r["replaced-by"])
        hops = 0
        while current is not None and current["current-authority"] != "True" and hops < 5:
            current = by_code.get(current["replaced-by"])
            hops += 1
        if current is None or not current["gss-code"]:
            continue
        for name in {r["official-name"].strip(), r["nice-name"].strip()}:
            rows.setdefault(
                (name.lower(), current["gss-code"]), (name, current["gss-code"], "former")
            )
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["place", "gss_code", "county_gss_code", "kind", "weight"])
    for place, gss, extra in sorted(rows.values(), key=lambda v: (v[0].lower(), v[1])):
        if extra == "former":
            out.writerow([place, gss, "", "former", 1])
        else:
            out.writerow([place, gss, extra, "town", weight[(place.lower(), gss)]])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
