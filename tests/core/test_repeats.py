"""Rows that repeat an earlier row's URL are found exactly, whether with one dict or with the
two-pass bit maps a list of millions takes: the same rows as a plain dict finds, the same
first rows, and a failed row never counted a copy."""

from __future__ import annotations

import random
from array import array

import pytest

from app.core import repeats
from app.core.errors import Failure, Kind
from app.core.sources import find_duplicates
from app.core.targets import TargetList


def reference(texts: list[str], failures: dict[int, Failure]
              ) -> tuple[dict[int, list[int]], dict[int, int]]:
    """What copies() gave when it was one dict of every text."""
    first: dict[str, int] = {}
    later: dict[int, int] = {}
    for index, text in enumerate(texts):
        seen = first.setdefault(text, index)
        if seen != index and index not in failures:
            later[index] = seen
    by_first: dict[int, list[int]] = {}
    for index, seen in later.items():
        by_first.setdefault(seen, []).append(index)
    return by_first, later


def lists() -> list[tuple[str, list[str]]]:
    rng = random.Random(12)
    unique = [f"https://a.example/{i}" for i in range(30_000)]
    repeated = [f"https://b.example/{rng.randrange(3_000)}" for _ in range(20_000)]
    mixed = [*unique[:5000], *repeated[:5000], "", "", "https://é.example/", "\ud800", "",
             "https://é.example/", *unique[:200]]
    rng.shuffle(mixed)
    return [("unique", unique), ("repeated", repeated), ("mixed", mixed), ("empty", []),
            ("one", ["https://a/"]), ("all the same", ["https://a/"] * 5000)]


@pytest.mark.parametrize("exact_below", [0, repeats.EXACT_BELOW])
@pytest.mark.parametrize(("name", "texts"), lists(), ids=[n for n, _ in lists()])
def test_copies_are_what_one_dict_finds(monkeypatch, name, texts, exact_below):
    monkeypatch.setattr(repeats, "EXACT_BELOW", exact_below)
    monkeypatch.setattr(repeats.later_copies, "__kwdefaults__", {"exact_below": exact_below})
    rng = random.Random(name)
    failed = Failure.plain(Kind.INVALID_URL, "not a URL")
    for failures in ({}, {i: failed for i in range(len(texts)) if rng.random() < 0.1}):
        targets = TargetList(texts, array("I", range(1, len(texts) + 1)), dict(failures))
        assert targets.copies() == reference(texts, failures)


def test_the_two_passes_keep_few_candidates():
    keys = [f"https://a.example/{i}".encode() for i in range(200_000)]
    kept: list[int] = []
    exact = repeats._exact

    def counting(keys_, again, mask):  # the second pass's dict: only the candidates
        later = exact(keys_, again, mask)
        kept.append(sum(1 for k in keys if again[hash(k) & mask]
                        & repeats._PAIRS[(hash(k) >> 40) & 31]
                        == repeats._PAIRS[(hash(k) >> 40) & 31]))
        return later

    repeats._exact = counting
    try:
        assert repeats.later_copies(lambda: iter(keys), len(keys), exact_below=0) == {}
    finally:
        repeats._exact = exact
    assert kept and kept[0] < 0.06 * len(keys)


@pytest.mark.parametrize("exact_below", [0, 1 << 30])
def test_find_duplicates_is_the_same_either_way(exact_below, monkeypatch):
    monkeypatch.setattr(repeats.later_copies, "__kwdefaults__", {"exact_below": exact_below})
    texts = ["https://A.example/x", "https://a.example/x#top", "not a url", "not a url",
             "https://a.example:443/x", "http://b.example", "http://b.example/", "x"]
    assert list(find_duplicates(texts)) == [-1, 0, -1, -1, 0, -1, 5, -1]
    assert list(find_duplicates(iter(texts))) == [-1, 0, -1, -1, 0, -1, 5, -1]
