"""Decoding the fault words of the inverter.

The device reports its faults as 128 bits spread over four UINT32 OIDs, ``fault[0].flt`` to
``fault[3].flt`` (:data:`FAULT_OIDS`): fault bit ``N`` is bit ``N % 32`` of ``fault[N // 32].flt``.
:data:`FAULTS` describes the bits whose meaning is known (loaded from the shipped data file
``rctclient/data/faults.tsv``) and :func:`active_faults` turns the four words into the list of set
bits::

    >>> from rctclient.faults import active_faults
    >>> [fault.description for fault in active_faults([0b10, 0, 0, 0])]
    ["RTC can't be configured"]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ._data import read_package_data, unescape
from .exceptions import FaultWordsError, RctClientException

__all__ = [
    "BITS_PER_WORD",
    "FAULTS",
    "FAULT_OIDS",
    "Fault",
    "FaultWords",
    "FaultWordsError",
    "active_faults",
    "fault_words",
]

#: The number of fault bits in each fault word.
BITS_PER_WORD = 32

#: The names of the four fault words, in bit order (word ``N`` holds bits ``32 * N`` to ``32 * N + 31``).
FAULT_OIDS: tuple[str, str, str, str] = ("fault[0].flt", "fault[1].flt", "fault[2].flt", "fault[3].flt")

#: What :func:`active_faults` accepts: the four words in order, or a mapping from the word names
#: (or indexes) to the words. (Mapping keys are invariant, hence the three mapping types.)
FaultWords = Sequence[int] | Mapping[str, int] | Mapping[int, int] | Mapping[str | int, int]

_WORD_COUNT = len(FAULT_OIDS)
_BIT_COUNT = _WORD_COUNT * BITS_PER_WORD
_WORD_MAX = 0xFFFFFFFF


@dataclass(frozen=True, slots=True, order=True)
class Fault:
    """One fault bit.

    ``bit`` is the number of the bit over all four words (0..127); ``word`` the index of the fault
    word that holds it (0..3), ``word_bit`` its position in that word (0..31) and ``oid_name`` the
    name of that word's OID. ``known`` is False for a set bit whose meaning is not known; its
    description then says so. Faults sort by bit.
    """

    bit: int
    word: int
    word_bit: int
    oid_name: str
    description: str
    known: bool = True

    @property
    def mask(self) -> int:
        """The bit as a mask within its fault word (``1 << word_bit``)."""
        return 1 << self.word_bit

    @classmethod
    def for_bit(cls, bit: int, description: str | None = None) -> Fault:
        """A :class:`Fault` for ``bit`` (0..127): the known one, or else an unknown-fault entry.

        If ``description`` is given the result is a known fault with that description (used when
        loading the data file).
        """
        if isinstance(bit, bool) or not isinstance(bit, int) or not 0 <= bit < _BIT_COUNT:
            raise FaultWordsError(f"fault bit {bit!r} is outside of 0..{_BIT_COUNT - 1}")
        if description is None:
            known = FAULTS.get(bit)
            if known is not None:
                return known
            return cls(bit, bit >> 5, bit & 31, FAULT_OIDS[bit >> 5], f"unknown fault bit {bit}", False)
        return cls(bit, bit >> 5, bit & 31, FAULT_OIDS[bit >> 5], description)


def _word_index(key: object) -> int:
    if isinstance(key, str):
        try:
            return FAULT_OIDS.index(key)
        except ValueError:
            expected = ", ".join(FAULT_OIDS)
            raise FaultWordsError(f"unknown fault word {key!r}; expected one of {expected}") from None
    if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < _WORD_COUNT:
        return key
    raise FaultWordsError(f"fault word key {key!r} is not a fault OID name or an index 0..{_WORD_COUNT - 1}")


def _check_words(words: FaultWords) -> list[int]:
    """The four words in order, validated."""
    if isinstance(words, Mapping):
        ordered: list[int | None] = [None] * _WORD_COUNT
        for key, value in words.items():
            index = _word_index(key)
            if ordered[index] is not None:
                raise FaultWordsError(f"fault word {FAULT_OIDS[index]} is given twice")
            ordered[index] = value
        missing = [FAULT_OIDS[index] for index, value in enumerate(ordered) if value is None]
        if missing:
            raise FaultWordsError(f"missing fault word(s): {', '.join(missing)}")
        values: list[object] = list(ordered)
    elif isinstance(words, (str, bytes, bytearray)) or not isinstance(words, Sequence):
        raise FaultWordsError(
            f"expected the {_WORD_COUNT} fault words as a sequence or a mapping, not {type(words).__name__}"
        )
    else:
        values = list(words)
        if len(values) != _WORD_COUNT:
            raise FaultWordsError(f"expected {_WORD_COUNT} fault words, got {len(values)}")
    result: list[int] = []
    for index, word in enumerate(values):
        if isinstance(word, bool) or not isinstance(word, int):
            kind = type(word).__name__
            raise FaultWordsError(f"fault word {FAULT_OIDS[index]} must be an int, not {kind}")
        if not 0 <= word <= _WORD_MAX:
            raise FaultWordsError(f"fault word {FAULT_OIDS[index]} = {word} is outside of 0..2**32-1")
        result.append(word)
    return result


def active_faults(words: FaultWords) -> list[Fault]:
    """The faults whose bits are set in the four fault words, sorted by bit.

    ``words`` is the values of ``fault[0].flt`` .. ``fault[3].flt`` (UINT32 each), either as a
    sequence of four ints in that order or as a mapping from the OID names (or the word indexes
    0..3) to the values. Set bits of unknown meaning are included as :class:`Fault` entries with
    ``known=False``. Raises :class:`FaultWordsError` (a :class:`ValueError`) for invalid input.
    """
    result: list[Fault] = []
    for index, value in enumerate(_check_words(words)):
        base = index * BITS_PER_WORD
        while value:
            low = value & -value
            result.append(Fault.for_bit(base + low.bit_length() - 1))
            value ^= low
    return result


def fault_words(faults: Iterable[int | Fault]) -> tuple[int, int, int, int]:
    """The four fault words with exactly the given bits (numbers 0..127 or :class:`Fault`) set.

    The inverse of :func:`active_faults`; useful for simulators and tests.
    """
    words = [0] * _WORD_COUNT
    for fault in faults:
        bit = fault.bit if isinstance(fault, Fault) else fault
        if isinstance(bit, bool) or not isinstance(bit, int) or not 0 <= bit < _BIT_COUNT:
            raise FaultWordsError(f"fault bit {bit!r} is outside of 0..{_BIT_COUNT - 1}")
        words[bit // BITS_PER_WORD] |= 1 << (bit % BITS_PER_WORD)
    return words[0], words[1], words[2], words[3]


# --------------------------------------------------------------------------------------------------
# Loading the shipped data file
# --------------------------------------------------------------------------------------------------

_DATA_FILE = "faults.tsv"
_COLUMNS = ["bit", "oid_name", "description"]


def parse_faults_tsv(text: str, source: str = _DATA_FILE) -> dict[int, Fault]:
    """Parse the fault data format into the known faults by bit (in bit order)."""
    result: dict[int, Fault] = {}
    header = False
    for number, line in enumerate(text.split("\n"), 1):
        if not line or line[0] == "#":
            continue
        fields = line.split("\t")
        if not header:
            if fields != _COLUMNS:
                raise RctClientException(f"{source}:{number}: unexpected columns {fields!r}")
            header = True
            continue
        if len(fields) != len(_COLUMNS):
            raise RctClientException(f"{source}:{number}: expected {len(_COLUMNS)} fields, got {len(fields)}")
        raw_bit, oid_name, description = fields
        try:
            bit = int(raw_bit)
            fault = Fault.for_bit(bit, unescape(description))
        except (ValueError, FaultWordsError):
            raise RctClientException(f"{source}:{number}: bad fault bit {raw_bit!r}") from None
        if fault.oid_name != oid_name:
            where = f"{source}:{number}"
            raise RctClientException(f"{where}: bit {bit} belongs to {fault.oid_name}, not {oid_name}")
        if bit in result:
            raise RctClientException(f"{source}:{number}: bit {bit} is listed twice")
        result[bit] = fault
    if not header:
        raise RctClientException(f"{source}: no header line")
    return dict(sorted(result.items()))


#: The fault bits of known meaning, by bit number (0..127), in bit order.
FAULTS: Mapping[int, Fault] = MappingProxyType(parse_faults_tsv(read_package_data(_DATA_FILE)))
