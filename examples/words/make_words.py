#!/usr/bin/env python3
"""Derives the word lists of examples/words from Debian's wamerican list, once.

    python3 examples/words/make_words.py [/usr/share/dict/american-english]

Keeps the entries that are 2 to 12 lower-case ASCII letters (no capitals, apostrophes or
accents), unique and sorted, and holds out exactly 10% of them (rounded): the words whose
SHA-256 digest sorts first. The split depends only on the words, not on their order or on a
random generator. Writes data/train.txt and data/heldout.txt (one word a line, sorted) next to
this script and prints the counts and the source file's SHA-256 for data/README.md.
"""
import hashlib
import pathlib
import re
import sys

source = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/dict/american-english")
raw = source.read_bytes()
word = re.compile(rb"[a-z]{2,12}")
words = sorted({w for w in raw.split(b"\n") if word.fullmatch(w)})
by_hash = sorted(words, key=lambda w: hashlib.sha256(w).digest())
held = set(by_hash[: round(len(words) / 10)])

out = pathlib.Path(__file__).resolve().parent / "data"
out.mkdir(exist_ok=True)
(out / "train.txt").write_bytes(b"".join(w + b"\n" for w in words if w not in held))
(out / "heldout.txt").write_bytes(b"".join(w + b"\n" for w in words if w in held))
print(f"{source}: sha256 {hashlib.sha256(raw).hexdigest()}")
print(f"{len(words)} words of 2-12 letters a-z: {len(words) - len(held)} train, {len(held)} held out")
