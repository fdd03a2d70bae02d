"""Tests of rctclient.registry and of the shipped registry data file."""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rctclient.exceptions import RctClientException
from rctclient.registry import REGISTRY, ObjectInfo, Registry, RegistryError, RegistryKeyError, natural_key
from rctclient.types import DataType, ObjectGroup

R = REGISTRY
ALL = R.all()
NAMES = [obj.name for obj in ALL]


FAULT_WORDS = ["fault[0].flt", "fault[1].flt", "fault[2].flt", "fault[3].flt"]


def make(object_id: int = 1, name: str = "a.b", data_type: DataType = DataType.FLOAT, **kwargs: object) -> ObjectInfo:
    fields: dict[str, object] = {
        "object_id": object_id,
        "index": 0,
        "name": name,
        "group": ObjectGroup.OTHERS,
        "request_data_type": data_type,
        "response_data_type": data_type,
    }
    fields.update(kwargs)
    return ObjectInfo(**fields)  # type: ignore[arg-type]


# -- the shipped data ----------------------------------------------------------------------------


def test_shipped_data_file_parses_without_duplicates() -> None:
    text = importlib.resources.files("rctclient").joinpath("data", "registry.tsv").read_text("utf-8")
    rows = [line for line in text.splitlines() if line and not line.startswith("#")][1:]
    assert len(rows) == 895
    ids = [line.split("\t")[0] for line in rows]
    names = [line.split("\t")[3] for line in rows]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    assert ids == sorted(ids, key=lambda raw: int(raw, 16)), "rows are sorted by object ID"
    assert all(not line.endswith((" ", "\t")) for line in text.splitlines())
    # A registry built eagerly from the parsed rows passes the full validation.
    eager = Registry(ALL)
    assert eager.all() == ALL


def test_registry_size_and_order() -> None:
    assert len(R) == 895
    assert len(ALL) == 895
    assert [obj.object_id for obj in ALL] == sorted(obj.object_id for obj in ALL)
    assert list(R) == ALL
    assert sorted(reversed(ALL)) == ALL  # __lt__ orders by object ID


def test_every_name_and_id_round_trips() -> None:
    for obj in ALL:
        assert R.get_by_id(obj.object_id) is obj
        assert R.get_by_name(obj.name) is obj
        assert R.resolve(obj.name) is obj
        assert R.resolve(obj.object_id) is obj
        assert R.resolve(f"0x{obj.object_id:08X}") is obj
        assert obj.id == obj.object_id
        assert obj in R and obj.name in R and obj.object_id in R
        assert 0 <= obj.object_id <= 0xFFFFFFFF


def test_field_values_are_well_formed() -> None:
    for obj in ALL:
        assert isinstance(obj.group, ObjectGroup)
        assert isinstance(obj.request_data_type, DataType)
        assert isinstance(obj.response_data_type, DataType)
        assert obj.description is None or obj.description
        assert obj.unit is None or obj.unit
        if obj.is_enum:
            assert obj.enum_map is not None
            assert isinstance(obj.enum_map, MappingProxyType)
        else:
            assert obj.enum_map is None
        hash(obj)


def test_group_matches_the_name_where_it_is_a_prefix() -> None:
    # The reference data files partition[3].last_id under OTHERS (partition[0..2] are PARTITION);
    # the registry keeps the facts as they are.
    exceptions = {"partition[3].last_id"}
    for obj in ALL:
        head = obj.name.split(".")[0].split("[")[0]
        if head.upper() in ObjectGroup.__members__ and obj.name not in exceptions:
            assert obj.group is ObjectGroup[head.upper()], obj


# -- documented examples -------------------------------------------------------------------------


def test_documented_battery_soc() -> None:
    soc = R.get_by_name("battery.soc")
    assert repr(soc) == "<ObjectInfo(id=0x959930BF, name=battery.soc)>"
    assert soc.description == "SOC (State of charge)"
    assert R.get_by_id(0x959930BF) is soc
    assert soc.id == 0x959930BF
    assert soc.response_data_type is DataType.FLOAT
    assert soc.request_data_type is DataType.FLOAT
    assert soc.group is ObjectGroup.BATTERY
    assert R.type_by_id(0x959930BF) is DataType.FLOAT


def test_repr_has_no_zero_padding() -> None:
    obj = make(0x0104EB6A, "x")
    assert repr(obj) == "<ObjectInfo(id=0x104EB6A, name=x)>"


def test_timeseries_and_event_table_types() -> None:
    log_ts = [obj for obj in ALL if obj.name.startswith("logger.") and obj.name.endswith("_log_ts")]
    assert len(log_ts) == 44
    for obj in log_ts:
        assert obj.request_data_type is DataType.INT32, obj
        assert obj.response_data_type is DataType.TIMESERIES, obj
        assert R.type_by_id(obj.object_id) is DataType.INT32
    events = R.get_by_name("logger.error_log_time_stamp")
    assert events.request_data_type is DataType.INT32
    assert events.response_data_type is DataType.EVENT_TABLE


def test_descriptions_and_units() -> None:
    assert R.get_by_name("rb485.f_grid[2]").unit == "Hz"
    assert R.get_by_name("rb485.f_grid[2]").description == "Grid phase 3 frequency"
    empty = R.get_by_name("power_mng.schedule[0]")
    assert empty.description is None
    assert empty.unit is None


# -- lookups and errors --------------------------------------------------------------------------


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(KeyError) as info:
        R.get_by_name("battery.sco")
    assert isinstance(info.value, RctClientException)
    message = str(info.value)
    assert "battery.sco" in message
    assert "battery.soc" in message
    assert "did you mean" in message


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("BATTERY.SOC", "battery.soc"),  # another case
        ("soc", "battery.soc"),  # a part of the name
        ("soc_tar", "battery.soc_target"),  # the start of a part
        ("conv_struct[0].p_d", "dc_conv.dc_conv_struct[0].p_dc"),  # inside the name
        ("minutes_sco", "logger.minutes_soc_log_ts"),  # spelt alike (the last part)
        ("battery.sco", "battery.soc"),  # spelt alike (the whole name)
    ],
)
def test_suggestions_for_names_typed_wrongly(typed: str, first: str) -> None:
    # Before: difflib on the whole name only; "soc", "BATTERY.SOC" and "minutes_sco" got no suggestion.
    found = R.suggest(typed)
    assert found[0] == first and 1 <= len(found) <= 5
    with pytest.raises(RegistryKeyError, match=rf"did you mean {re.escape(first)}"):
        R.get_by_name(typed)


def test_suggestions_among_given_names_and_limits() -> None:
    series = [o.name for o in ALL if o.kind == "timeseries"]
    assert set(R.suggest("soc", names=series)) <= set(series)
    assert R.suggest("soc", limit=1) == ["battery.soc"]
    assert R.suggest("") == [] and R.suggest("soc", limit=0) == []


def test_search_by_relevance() -> None:
    # Before: sorted by object ID, so "soc" listed net.soc_av and a dozen others before battery.soc.
    ranked = [o.name for o in R.search("soc", by_relevance=True)]
    assert ranked[0] == "battery.soc"
    assert sorted(ranked) == sorted(o.name for o in R.search("soc"))
    assert ranked.index("battery.soc_target") < ranked.index("net.soc_av")
    # names first, then descriptions with the text as a word, then descriptions that merely contain it
    small = Registry(
        [
            make(1, "c.y", description="associated"),
            make(2, "a.x", description="the SOC value"),
            make(3, "b.socket"),
        ]
    )
    assert [o.name for o in small.search("soc", by_relevance=True)] == ["b.socket", "a.x", "c.y"]
    assert [o.name for o in small.search("soc")] == ["c.y", "a.x", "b.socket"]


def test_natural_key_orders_indices_as_numbers() -> None:
    names = ["fault[10].flt", "fault[1].flt", "fault[0].flt", "fault[2].flt", "battery.soc"]
    assert sorted(names, key=natural_key) == [
        "battery.soc",
        "fault[0].flt",
        "fault[1].flt",
        "fault[2].flt",
        "fault[10].flt",
    ]


def test_unknown_name_without_close_names() -> None:
    with pytest.raises(RegistryKeyError) as info:
        R.get_by_name("zzzzzzzzzzzzzzzzzzzzzz")
    assert "did you mean" not in str(info.value)


def test_unknown_id() -> None:
    with pytest.raises(KeyError, match="0x00000001"):
        R.get_by_id(1)
    with pytest.raises(KeyError):
        R.type_by_id(1)
    assert 1 not in R
    assert "nope" not in R
    assert 1.5 not in R
    assert True not in R


def test_resolve() -> None:
    soc = R.get_by_name("battery.soc")
    assert R.resolve("0x959930bf") is soc
    assert R.resolve(" 0X959930BF ") is soc
    assert R.resolve(soc) is soc
    with pytest.raises(KeyError):
        R.resolve("0x00000001")
    with pytest.raises(KeyError):
        R.resolve("0xnothex")
    with pytest.raises(TypeError):
        R.resolve(True)
    with pytest.raises(TypeError):
        R.resolve(1.0)  # type: ignore[arg-type]


def test_contains_object_info_compares_content() -> None:
    soc = R.get_by_name("battery.soc")
    assert soc in R
    assert dataclasses.replace(soc, description="other") not in R
    assert make(1, "x") not in R


def test_prefix_complete_name() -> None:
    assert R.prefix_complete_name("") == sorted(NAMES)
    found = R.prefix_complete_name("battery.soc")
    assert found == sorted(found)
    assert "battery.soc" in found
    assert "battery.soc_target" in found
    assert all(name.startswith("battery.soc") for name in found)
    assert R.prefix_complete_name("no-such-prefix") == []


def test_name_max_length() -> None:
    assert R.name_max_length() == max(len(name) for name in NAMES)
    assert Registry([]).name_max_length() == 0


def test_search_is_case_insensitive_on_name_and_description() -> None:
    found = R.search("state of CHARGE")
    assert R.get_by_name("battery.soc") in found
    assert found == sorted(found)
    assert R.search("BATTERY.SOC_TARGET") == [obj for obj in ALL if "battery.soc_target" in obj.name.lower()]
    assert R.search("") == ALL


def test_glob_brackets_are_literal() -> None:
    assert R.glob("fault[0].flt") == [R.get_by_name("fault[0].flt")]
    words = R.glob("fault[*].flt")
    assert sorted(obj.name for obj in words) == FAULT_WORDS
    assert words == sorted(words)
    assert R.glob("fault[?].flt") == words
    assert R.glob("fault[0-3].flt") == []  # not a character set
    assert R.glob("battery.soc") == [R.get_by_name("battery.soc")]
    assert sorted(obj.name for obj in R.glob("battery.so?")) == ["battery.soc", "battery.soh"]
    assert R.glob("*") == ALL
    assert R.glob("BATTERY.SOC") == []  # case-sensitive
    assert R.glob("battery.*") == [obj for obj in ALL if obj.name.startswith("battery.")]


@given(st.sampled_from(NAMES))
def test_glob_of_any_name_is_that_name(name: str) -> None:
    assert [obj.name for obj in R.glob(name)] == [name]
    escaped_by_star = name[:-1] + "*"
    assert name in [obj.name for obj in R.glob(escaped_by_star)]


def test_by_group() -> None:
    faults = R.by_group(ObjectGroup.FAULT)
    assert sorted(obj.name for obj in faults) == FAULT_WORDS
    assert R.by_group("fault") == faults
    assert R.by_group("FAULT") == faults
    assert sum(len(R.by_group(group)) for group in ObjectGroup) == 895
    with pytest.raises(KeyError, match="unknown group"):
        R.by_group("nope")


# -- ObjectInfo ----------------------------------------------------------------------------------


def test_enum_str() -> None:
    mode = R.get_by_name("modbus.mode")
    assert mode.request_data_type is DataType.ENUM
    assert mode.enum_str(0) == "Modbus slave"
    assert mode.enum_str(1) == "Modbus master"
    with pytest.raises(KeyError, match="no label for value 7"):
        mode.enum_str(7)
    with pytest.raises(RctClientException, match="not an ENUM"):
        R.get_by_name("battery.soc").enum_str(0)
    with pytest.raises(RctClientException, match="no enum map"):
        make(data_type=DataType.ENUM).enum_str(0)


def test_enum_without_known_labels_has_an_empty_map() -> None:
    proto = R.get_by_name("wifi.sockb_protocol")
    assert proto.request_data_type is DataType.ENUM
    assert proto.enum_map == {}
    with pytest.raises(KeyError):
        proto.enum_str(0)


def test_object_info_is_frozen_hashable_and_ordered() -> None:
    soc = R.get_by_name("battery.soc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        soc.name = "x"  # type: ignore[misc]
    mode = R.get_by_name("modbus.mode")
    assert len({soc, mode, soc}) == 2
    copy = dataclasses.replace(mode)
    assert copy == mode and hash(copy) == hash(mode)
    low, high = make(1, "low"), make(2, "high")
    assert low < high and low <= high and high > low and high >= low
    assert sorted([high, low]) == [low, high]
    assert low.__lt__(object()) is NotImplemented  # type: ignore[operator]


# -- Registry validation -------------------------------------------------------------------------


def test_validation_rejects_duplicate_ids() -> None:
    with pytest.raises(RegistryError, match="duplicate object ID 0x00000001"):
        Registry([make(1, "a"), make(1, "b")])


def test_validation_rejects_duplicate_names() -> None:
    with pytest.raises(RegistryError, match="duplicate name 'a'"):
        Registry([make(1, "a"), make(2, "a")])


@pytest.mark.parametrize("object_id", [-1, 0x1_0000_0000])
def test_validation_rejects_ids_outside_32_bits(object_id: int) -> None:
    with pytest.raises(RegistryError, match="does not fit 32 bits"):
        Registry([make(object_id, "a")])


def test_validation_requires_enum_maps() -> None:
    with pytest.raises(RegistryError, match="no enum map"):
        Registry([make(1, "a", DataType.ENUM)])
    registry = Registry([make(1, "a", DataType.ENUM, enum_map={0: "off"})])
    assert registry.get_by_name("a").enum_str(0) == "off"


def test_validation_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        Registry([make(1, "a"), make(1, "a")])
    with pytest.raises(RegistryError, match="not an ObjectInfo"):
        Registry(["a"])  # type: ignore[list-item]


def test_custom_registry_is_independent() -> None:
    small = Registry([make(2, "b"), make(1, "a")])
    assert [obj.name for obj in small] == ["a", "b"]
    assert len(small) == 2
    assert small.prefix_complete_name("") == ["a", "b"]
    assert small.name_max_length() == 1
    assert "battery.soc" not in small


def test_from_tsv_rejects_malformed_input() -> None:
    header = "object_id\tindex\tgroup\tname\trequest_type\tresponse_type\tunit\tdescription\tenum\n"
    row = "0x00000001\t0\tOTHERS\ta\tFLOAT\tFLOAT\n"
    assert Registry.from_tsv(header + row).get_by_id(1).name == "a"
    with pytest.raises(RegistryError, match="no header"):
        Registry.from_tsv("# only a comment\n")
    with pytest.raises(RegistryError, match="unexpected columns"):
        Registry.from_tsv("a\tb\n")
    with pytest.raises(RegistryError, match="duplicate object ID"):
        Registry.from_tsv(header + row + row.replace("\ta\t", "\tb\t"))
    with pytest.raises(RegistryError, match="duplicate name"):
        Registry.from_tsv(header + row + row.replace("0x00000001", "0x00000002"))
    with pytest.raises(RegistryError, match="malformed row"):
        Registry.from_tsv(header + "0x1\t0\tOTHERS\ta\tFLOAT\n")
    bad_type = Registry.from_tsv(header + row.replace("FLOAT\tFLOAT", "FLOAT\tDOUBLE"))
    with pytest.raises(RegistryError, match="DOUBLE"):
        bad_type.get_by_id(1)
    enum_on_float = Registry.from_tsv(header + "0x00000001\t0\tOTHERS\ta\tFLOAT\tFLOAT\t\t\t0=x\n")
    with pytest.raises(RegistryError, match="non-ENUM"):
        enum_on_float.all()


def test_from_tsv_unescapes() -> None:
    header = "object_id\tindex\tgroup\tname\trequest_type\tresponse_type\tunit\tdescription\tenum\n"
    row = "0x00000001\t0\tOTHERS\ta\\\\b\tENUM\tENUM\t\tline\\none\\ttab\t0=x\\|y|1=back\\\\|2=z\n"
    registry = Registry.from_tsv(header + row)
    obj = registry.get_by_name("a\\b")
    assert obj.description == "line\none\ttab"
    assert dict(obj.enum_map or {}) == {0: "x|y", 1: "back\\", 2: "z"}


# -- build tool and import cost ------------------------------------------------------------------


def test_build_tool_enum_names_match_the_package() -> None:
    tools = Path(__file__).resolve().parent.parent / "tools"
    sys.path.insert(0, str(tools))
    try:
        import build_registry
    finally:
        sys.path.remove(str(tools))
    assert set(DataType.__members__) == build_registry.DATA_TYPE_NAMES
    assert build_registry.escape("a\tb\\c|d", "|") == "a\\tb\\\\c\\|d"


def test_import_does_not_load_slow_modules() -> None:
    slow = ("difflib", "importlib.resources", "json", "fnmatch")
    code = f"import sys, rctclient.registry, rctclient.faults; print([m for m in {slow} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
