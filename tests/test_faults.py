"""Tests of rctclient.faults and of the shipped fault data file."""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rctclient.exceptions import RctClientException
from rctclient.faults import (
    BITS_PER_WORD,
    FAULT_OIDS,
    FAULTS,
    Fault,
    FaultWordsError,
    active_faults,
    fault_words,
    parse_faults_tsv,
)
from rctclient.registry import REGISTRY
from rctclient.types import DataType

WORD = st.integers(min_value=0, max_value=2**32 - 1)
WORDS = st.lists(WORD, min_size=4, max_size=4)


def set_bits(words: list[int]) -> set[int]:
    return {index * 32 + bit for index, word in enumerate(words) for bit in range(32) if word >> bit & 1}


def test_shipped_data_file_parses_without_duplicates() -> None:
    text = importlib.resources.files("rctclient").joinpath("data", "faults.tsv").read_text("utf-8")
    rows = [line for line in text.splitlines() if line and not line.startswith("#")][1:]
    bits = [int(line.split("\t")[0]) for line in rows]
    assert len(bits) == len(set(bits)) == 100
    assert bits == sorted(bits)
    assert parse_faults_tsv(text) == dict(FAULTS)


def test_fault_oids_are_uint32_oids_of_the_registry() -> None:
    assert FAULT_OIDS == ("fault[0].flt", "fault[1].flt", "fault[2].flt", "fault[3].flt")
    for name in FAULT_OIDS:
        obj = REGISTRY.get_by_name(name)
        assert obj.request_data_type is DataType.UINT32
        assert obj.response_data_type is DataType.UINT32


def test_known_faults_are_consistent() -> None:
    assert list(FAULTS) == sorted(FAULTS)
    assert set(FAULTS) == set(range(100))
    for bit, fault in FAULTS.items():
        assert fault.bit == bit
        assert fault.word == bit // 32
        assert fault.word_bit == bit % 32
        assert fault.oid_name == FAULT_OIDS[bit // 32]
        assert fault.known
        assert fault.description
        assert fault.mask == 1 << (bit % 32)
    assert FAULTS[0].description == "TRAP occured"
    assert FAULTS[77].description == "Usg A is over limit"
    assert FAULTS[99].oid_name == "fault[3].flt"


def test_faults_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        FAULTS[0] = FAULTS[1]  # type: ignore[index]


def test_no_faults() -> None:
    assert active_faults([0, 0, 0, 0]) == []


def test_known_and_unknown_bits() -> None:
    found = active_faults([0b11, 1 << 31, 1 << 13, (1 << 3) | (1 << 31)])
    assert [fault.bit for fault in found] == [0, 1, 63, 77, 99, 127]
    assert [fault.known for fault in found] == [True, True, True, True, True, False]
    assert found[1].description == "RTC can't be configured"
    assert found[2].description == "RTC Supply voltage drop"
    assert found[3].oid_name == "fault[2].flt"
    unknown = found[-1]
    assert unknown.description == "unknown fault bit 127"
    assert (unknown.word, unknown.word_bit, unknown.oid_name) == (3, 31, "fault[3].flt")


def test_mapping_input_by_name_or_index() -> None:
    by_name = {"fault[0].flt": 1, "fault[1].flt": 0, "fault[2].flt": 0, "fault[3].flt": 1 << 4}
    by_index = {0: 1, 1: 0, 2: 0, 3: 1 << 4}
    mixed: Mapping[str | int, int] = {"fault[0].flt": 1, 1: 0, 2: 0, "fault[3].flt": 1 << 4}
    expected = [FAULTS[0], Fault.for_bit(100)]
    assert active_faults(by_name) == expected
    assert active_faults(by_index) == expected
    assert active_faults(mixed) == expected
    assert expected[1].description == "unknown fault bit 100"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([0, 0, 0], "expected 4 fault words, got 3"),
        ([0, 0, 0, 0, 0], "expected 4 fault words, got 5"),
        ([0, 0, 0, -1], "outside of 0..2\\*\\*32-1"),
        ([0, 0, 2**32, 0], "outside of 0..2\\*\\*32-1"),
        ([0, 0, 0, 1.0], "must be an int"),
        ([0, True, 0, 0], "must be an int"),
        ("abcd", "sequence or a mapping"),
        (b"\0\0\0\0", "sequence or a mapping"),
        (7, "sequence or a mapping"),
        ({0: 0, 1: 0, 2: 0}, "missing fault word\\(s\\): fault\\[3\\].flt"),
        ({0: 0, 1: 0, 2: 0, 3: 0, "fault[0].flt": 0}, "given twice"),
        ({0: 0, 1: 0, 2: 0, 4: 0}, "not a fault OID name or an index"),
        ({0: 0, 1: 0, 2: 0, "fault[4].flt": 0}, "unknown fault word"),
    ],
)
def test_invalid_input(words: object, message: str) -> None:
    with pytest.raises(FaultWordsError, match=message) as info:
        active_faults(words)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RctClientException)


def test_fault_for_bit() -> None:
    assert Fault.for_bit(5) is FAULTS[5]
    assert not Fault.for_bit(120).known
    for bad in (-1, 128, True):
        with pytest.raises(FaultWordsError):
            Fault.for_bit(bad)


def test_fault_words_rejects_bad_bits() -> None:
    with pytest.raises(FaultWordsError):
        fault_words([128])


def test_faults_sort_by_bit() -> None:
    assert sorted([FAULTS[40], Fault.for_bit(101), FAULTS[2]]) == [FAULTS[2], FAULTS[40], Fault.for_bit(101)]


@given(WORDS)
def test_active_faults_are_exactly_the_set_bits(words: list[int]) -> None:
    found = active_faults(words)
    assert [fault.bit for fault in found] == sorted(set_bits(words))
    for fault in found:
        assert words[fault.word] >> fault.word_bit & 1
        assert fault.known == (fault.bit in FAULTS)
        if fault.known:
            assert fault is FAULTS[fault.bit]
        else:
            assert fault.description == f"unknown fault bit {fault.bit}"
    assert fault_words(found) == tuple(words)
    as_mapping = dict(zip(FAULT_OIDS, words, strict=True))
    assert active_faults(as_mapping) == found


@given(st.sets(st.integers(min_value=0, max_value=4 * BITS_PER_WORD - 1)))
def test_fault_words_round_trip(bits: set[int]) -> None:
    words = fault_words(bits)
    assert all(0 <= word < 2**32 for word in words)
    assert {fault.bit for fault in active_faults(words)} == bits
