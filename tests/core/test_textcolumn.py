"""The column a URL list keeps its texts in reads back exactly the list it was given: any text
(empty, non-ASCII, a lone surrogate, a line break inside), by index, slice and iteration."""

from __future__ import annotations

import random

import pytest

from app.core.textcolumn import TextColumn

ALPHABET = "abc/:.?=&%-_ \t\n\r\x00é中😀\ud800\udfff\u2028\ufeff"


def random_texts(seed: int, count: int, *, newlines: bool = True) -> list[str]:
    rng = random.Random(seed)
    letters = ALPHABET if newlines else ALPHABET.replace("\n", "")
    return ["".join(rng.choice(letters) for _ in range(rng.choice([0, 0, 1, 3, 40, 300])))
            for _ in range(count)]


@pytest.mark.parametrize("newlines", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_a_column_reads_back_the_list_it_was_given(seed, newlines):
    texts = random_texts(seed, 9_000, newlines=newlines)  # more than one iteration block
    column = TextColumn(texts)
    assert len(column) == len(texts)
    assert list(column) == texts
    assert column == texts and texts == column
    rng = random.Random(seed)
    for index in [0, -1, len(texts) - 1, -len(texts), *rng.sample(range(len(texts)), 200)]:
        assert column[index] == texts[index]
    assert [t.encode("utf-8", "surrogatepass") for t in texts] == list(column.encoded())


def test_slices_of_a_column_are_the_list_s_slices():
    texts = random_texts(7, 500)
    column = TextColumn(texts)
    for start, stop, step in [(None, None, None), (3, 40, None), (-20, None, None),
                              (None, -5, None), (40, 3, None), (5, 300, 7), (None, None, -1),
                              (-3, -300, -2), (1000, 2000, None)]:
        part = column[start:stop:step]
        assert isinstance(part, TextColumn)
        assert part == texts[start:stop:step]
    assert column[10:20][-1] == texts[19]


def test_an_index_out_of_range_raises_index_error():
    column = TextColumn(["a", "b"])
    for index in (2, -3, 10**12):
        with pytest.raises(IndexError):
            column[index]
    with pytest.raises(IndexError):
        TextColumn()[0]


def test_append_and_extend_in_every_form_agree():
    texts = random_texts(3, 3_000)
    one_by_one = TextColumn()
    for text in texts:
        one_by_one.append(text)
    from_generator = TextColumn(t for t in texts)
    from_halves = TextColumn(texts[:1000])
    from_halves.extend(TextColumn(texts[1000:]))
    from_tuple = TextColumn(tuple(texts))
    for column in (one_by_one, from_generator, from_halves, from_tuple):
        assert column == texts
        assert column == TextColumn(texts)
    twice = TextColumn(texts[:50])
    twice.extend(twice)
    assert twice == texts[:50] * 2


def test_a_line_break_inside_a_text_after_many_without_one_is_kept():
    texts = [f"https://a.example/{i}" for i in range(5_000)]
    column = TextColumn(texts)
    column.append("two\nlines")
    column.extend(["x", "more\nlines", ""])
    assert list(column) == [*texts, "two\nlines", "x", "more\nlines", ""]


def test_offsets_go_to_eight_bytes_past_the_threshold():
    texts = random_texts(11, 2_000, newlines=False)
    column = TextColumn(texts[:10], wide_at=200)
    column.extend(texts[10:1000])
    for text in texts[1000:1100]:
        column.append(text)
    column.extend(TextColumn(texts[1100:], wide_at=200))
    assert column._ends.typecode == "Q"
    assert column == texts
    assert column[500:700] == texts[500:700]
    narrow = TextColumn(["ab"] * 3, wide_at=9)  # ends 3, 6, 9: the last one is past it
    assert narrow._ends.typecode == "Q" and narrow == ["ab"] * 3


def test_starting_with_finds_only_texts_that_start_so():
    texts = ["\x00too long:5", "a\x00too long:1", "", "\x00too long:70000", "\x00", "b"]
    column = TextColumn(texts)
    assert list(column.starting_with("\x00too long:")) == [0, 3]
    assert list(TextColumn(["x", "y"]).starting_with("\x00")) == []


def test_replaced_copies_with_some_texts_changed_and_leaves_the_column_as_it_was():
    texts = random_texts(5, 6_000)
    column = TextColumn(texts)
    changes = {0: "first", 17: "", 4095: "edge", 4096: "é", len(texts) - 1: "last"}
    changed = column.replaced(changes)
    assert changed == [changes.get(i, t) for i, t in enumerate(texts)]
    assert column == texts


def test_a_column_is_not_equal_to_a_different_list():
    column = TextColumn(["a", "b"])
    assert column != ["a"] and column != ["a", "c"] and column != ("a", "b", "c")
    assert column == ("a", "b") and column != "ab" and column != TextColumn(["a"])
