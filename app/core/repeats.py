"""Which rows of a list repeat an earlier row's key, found in memory that grows with the
repeats rather than with the list: a ``dict`` of every key costs ~150 bytes a row (1.5 GB at
ten million), two bit maps cost two bytes a row and the exact pass keeps only the candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

__all__ = ["EXACT_BELOW", "later_copies"]

# Below this many rows one dict of every key is quicker and its memory bounded (~150 MB).
EXACT_BELOW = 1 << 21

# A key marks two bits of one byte of a bit map (a "blocked" Bloom filter: one byte read and
# one test a key, half the work of two separate bits): these are the 28 pairs, and 4 again.
_PAIRS = tuple(1 << i | 1 << j for i in range(8) for j in range(i + 1, 8))
_PAIRS += _PAIRS[:32 - len(_PAIRS)]


def later_copies(keys: Callable[[], Iterable[Hashable | None]], count: int, *,
                 exact_below: int = EXACT_BELOW) -> dict[int, int]:
    """Each row whose key equals an earlier row's, mapped to the first such row's index.

    ``keys()`` gives the ``count`` rows' keys, None for a row that repeats nothing; it is
    called twice for a long list. Above ``exact_below`` rows, a first pass marks each key's
    hash in a bit map (8 to 16 bits a row), and in a second map when it was marked already;
    only keys marked there (the repeats, and ~2 % of the others) go into the exact pass's dict.
    """
    if count < exact_below:
        return _exact(keys(), None, 0)
    size = min(1 << 31, max(1 << 12, 1 << count.bit_length()))  # bytes: 1 to 2 a row
    mask = size - 1
    seen = bytearray(size)
    again = bytearray(size)
    pairs = _PAIRS
    for code in map(hash, keys()):  # None too: one pair of bits, and pass 2 skips it
        at = code & mask
        pair = pairs[(code >> 40) & 31]
        if seen[at] & pair == pair:
            again[at] |= pair
        else:
            seen[at] |= pair
    del seen
    return _exact(keys(), again, mask)


def _exact(keys: Iterable[Hashable | None], again: bytearray | None,
           mask: int) -> dict[int, int]:
    first: dict[Hashable, int] = {}
    later: dict[int, int] = {}
    remember = first.setdefault
    pairs = _PAIRS
    for index, key in enumerate(keys):
        if key is None:
            continue
        if again is not None:
            code = hash(key)
            pair = pairs[(code >> 40) & 31]
            if again[code & mask] & pair != pair:
                continue
        seen = remember(key, index)
        if seen != index:
            later[index] = seen
    return later
