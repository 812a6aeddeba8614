#!/usr/bin/env python3
"""Generates crates/core/src/pii/dictionaries/census_{first,last}_names.txt (the US Census
Bureau's 1990 name lists, filtered, for the PERSON recognizer) and common_word_names.txt
(the entries of the hand-written first_names.txt and last_names.txt that are common English
words: "Mark", "Grace", "Brown").

Sources (both fetched with ordinary package clients, nothing is copied raw into the repo):

- Names: the 1990 US Census "Frequently Occurring Names" files dist.all.last (88,799
  surnames), dist.female.first (4,275) and dist.male.first (1,219 given names), a work of
  the US government (public domain). They ship inside the PyPI package `names` 0.3.0
  (treyhunner/names, MIT): `pip download names==0.3.0 --no-deps`.
- Common English words, used only to leave names out: SCOWL size 35 as Debian packages it,
  `wamerican-small` 2020.12.07-2 (/usr/share/dict/american-english-small; SCOWL's
  permissive license, see /usr/share/doc/wamerican-small/copyright): `apt-get download
  wamerican-small` and `dpkg-deb -x`, or `apt-get install wamerican-small`.

Filtering rules:

- Surnames: the SURNAMES most frequent (the files are in frequency order); given names: all.
- Title case ("MCDONALD" -> "Mcdonald"); a name starting "Mc" is also written "McDonald".
- Left out: names of fewer than MIN_LEN letters; names that are common English words (an
  entry of SCOWL 35 in any case: "brown", "long", "will", "grace", "bill", "June",
  "English"), since a list hit on those says little; place names of the LOCATION lists
  (countries.txt, regions.txt, cities.txt: "Houston", "Austria"), which LOCATION reports;
  nationality and language adjectives (DEMONYMS: "German", "Czech"); names already in the
  hand-written
  first_names.txt / last_names.txt (those are kept as they are: the `substitute` strategy
  draws its fakes from them, and its outputs must not change).
- common_word_names.txt: the entries of first_names.txt and last_names.txt whose
  lower-case form is a lower-case entry of SCOWL 35.

Usage (from the repository root):
    python3 scripts/gen_name_lists.py NAMES_DIR WORDS_FILE
where NAMES_DIR holds dist.all.last, dist.female.first and dist.male.first (the `names/`
folder of the unpacked package) and WORDS_FILE is american-english-small.
"""
import os
import sys

SURNAMES = 20000
MIN_LEN = 3
OUT = "crates/core/src/pii/dictionaries"
# Capitalized in English and so in every sentence, but words, not names.
DEMONYMS = set(
    """American African Albanian Arab Arabic Armenian Asian Australian Austrian Belgian
    Brazilian British Bulgarian Canadian Catholic Chinese Christian Croatian Cuban Czech
    Danish Dutch Egyptian English European Filipino Finnish French German Greek Hebrew Hindu
    Hungarian Indian Irish Islamic Israeli Italian Japanese Jewish Korean Latin Mexican
    Moroccan Muslim Norwegian Persian Polish Portuguese Roman Romanian Russian Scottish
    Serbian Slovak Slovenian Spanish Swedish Swiss Thai Turkish Ukrainian Welsh""".split()
)


def census(path, limit=None):
    """Names of a dist.* file, most frequent first: 'SMITH 1.006 1.006 1' per line."""
    names = []
    with open(path, encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if parts:
                names.append(parts[0])
    return names[:limit] if limit else names


def spellings(name):
    """The capitalized spellings of an upper-case Census name."""
    if not name.isalpha():
        return []
    title = name.capitalize()
    out = [title]
    if title.startswith("Mc") and len(title) > 3:
        out.append("Mc" + title[2:].capitalize())
    return out


def read_list(path):
    with open(path, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip()}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    names_dir, words_file = sys.argv[1], sys.argv[2]
    with open(words_file, encoding="utf-8", errors="replace") as f:
        entries = [w.strip() for w in f if w.strip()]
    common = {w.lower() for w in entries}
    # Lower-case entries only: ordinary words, not SCOWL's few proper nouns ("John").
    ordinary = {w for w in entries if w.islower()}
    places = set()
    for file in ["countries.txt", "regions.txt", "cities.txt"]:
        places |= read_list(os.path.join(OUT, file))
    words = set()
    for kind, files, limit in [
        ("first", ["dist.female.first", "dist.male.first"], None),
        ("last", ["dist.all.last"], SURNAMES),
    ]:
        hand = read_list(os.path.join(OUT, f"{kind}_names.txt"))
        out = set()
        for file in files:
            for name in census(os.path.join(names_dir, file), limit):
                if len(name) < MIN_LEN or name.lower() in common:
                    continue
                out.update(
                    s
                    for s in spellings(name)
                    if s not in hand and s not in places and s not in DEMONYMS
                )
        write(f"census_{kind}_names.txt", out)
        words |= {n for n in hand if n.lower() in ordinary}
    write("common_word_names.txt", words)


def write(name, entries):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(n + "\n" for n in sorted(entries)))
    print(f"{path}: {len(entries)} names", file=sys.stderr)


if __name__ == "__main__":
    main()
