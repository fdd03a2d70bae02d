#!/usr/bin/env python3
"""Generate the shipped data files of :mod:`rctclient.registry` and :mod:`rctclient.faults`.

Input: the reference tables ``oids.csv`` and ``faults.csv`` of the shared directory (``--shared``,
by default ``../shared`` next to the repository; the tables are looked up in ``DIR/reference/`` and
then in ``DIR``). Output: ``src/rctclient/data/registry.tsv`` and ``src/rctclient/data/faults.tsv``.

This tool is the only part of the project that reads the shared directory; the package and the
tests only use the generated files.

Format of the generated files (UTF-8, ``\\n`` line ends, one record per line, sorted):

* Lines starting with ``#`` are comments. The first non-comment line names the columns.
* Fields are separated by a TAB. Empty fields at the end of a line are left out (so that no line
  ends in white space); a reader pads a short line with empty fields. A backslash escapes the
  characters that cannot appear literally: ``\\t`` (TAB), ``\\n`` (newline), ``\\r`` (carriage
  return), ``\\\\`` (backslash) and ``\\|`` (a ``|`` in an enum label).
* ``registry.tsv`` columns: ``object_id`` (``0x`` and 8 upper-case hex digits), ``index``,
  ``group`` (an :class:`~rctclient.types.ObjectGroup` member name), ``name``, ``request_type`` and
  ``response_type`` (:class:`~rctclient.types.DataType` member names), ``unit``, ``description``
  (empty for none), ``enum``: for OIDs with an ENUM data type, the labels as ``value=label`` pairs
  joined by ``|`` in increasing value order (empty if no label is known); empty for the other types,
  and ``static``: ``1`` for values that never change while the device runs (serial numbers, software
  versions, the device's name and grid code: see ``STATIC_NAMES``), else empty. Rows are sorted by
  object ID.
* ``faults.tsv`` columns: ``bit`` (0..127), ``oid_name`` (``fault[bit // 32].flt``) and
  ``description``. Rows are sorted by bit.

Usage::

    python tools/build_registry.py            # regenerate the files
    python tools/build_registry.py --check    # exit 1 if the committed files are out of date
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "src" / "rctclient" / "data"
DEFAULT_SHARED = REPO_ROOT.parent / "shared"

REGISTRY_FILE = "registry.tsv"
FAULTS_FILE = "faults.tsv"

REGISTRY_COLUMNS = (
    "object_id",
    "index",
    "group",
    "name",
    "request_type",
    "response_type",
    "unit",
    "description",
    "enum",
    "static",
)
FAULTS_COLUMNS = ("bit", "oid_name", "description")

# Kept in step with rctclient.types by hand: this tool must run without the package installed.
# The test-suite checks that every value written here is a member name of the package's enums.
DATA_TYPE_NAMES = frozenset(
    {
        "UNKNOWN",
        "BOOL",
        "UINT8",
        "INT8",
        "UINT16",
        "INT16",
        "UINT32",
        "INT32",
        "ENUM",
        "FLOAT",
        "STRING",
        "TIMESERIES",
        "EVENT_TABLE",
        "BATTERY_MODULE_STATUS",
        "BATTERY_MODULE_STATISTICS",
        "BATTERY_MODULE_RESISTANCE",
    }
)

#: Values that do not change while the device runs, so that a cache may keep them for long (the
#: proxy's ``--static-max-age``, the monitor's static tier). Each pattern matches whole names:
STATIC_NAMES = re.compile(
    "|".join(
        (
            r"inverter_sn",  # the serial number printed on the type plate
            r"android_description",  # the device name; changed only from the vendor's app, during setup
            r"svnversion(_factory|_last_known)?",  # control software versions: change only with a firmware update
            r"parameter_file",  # the grid code ("Norm") chosen at commissioning
            r"(battery|battery_placeholder\[\d+\])\.(bms_sn|prog_sn|module_sn\[\d+\])",  # battery serial numbers
            r"(battery|battery_placeholder\[\d+\])\.(bms_software_version|bms_power_version)",  # BMS firmware
            r"(battery|battery_placeholder\[\d+\])\.stack_software_version\[\d+\]",  # battery module firmware
            r"rb485\.version_(boot|main)",  # power switch firmware
            r"db\.power_board\.version_(boot|main)",  # power board firmware
        )
    )
)

FAULT_WORDS = 4
BITS_PER_WORD = 32

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


class BuildError(Exception):
    """The reference tables contain something this tool refuses to turn into data."""


@dataclass(frozen=True)
class OidRow:
    object_id: int
    index: int
    group: str
    name: str
    request_type: str
    response_type: str
    unit: str
    description: str
    enum: dict[int, str] | None

    @property
    def static(self) -> bool:
        return STATIC_NAMES.fullmatch(self.name) is not None


def escape(text: str, extra: str = "") -> str:
    """Escape backslash, TAB, CR and LF (and each character of ``extra``) with a backslash."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char in extra:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _where(path: Path, line: int) -> str:
    return f"{path.name}:{line}"


def parse_enum(raw: str, where: str) -> dict[int, str]:
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BuildError(f"{where}: enum_values is not valid JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise BuildError(f"{where}: enum_values must be a JSON object, got {type(decoded).__name__}")
    result: dict[int, str] = {}
    for key, label in decoded.items():
        try:
            value = int(key, 10)
        except ValueError:
            raise BuildError(f"{where}: enum value {key!r} is not a decimal integer") from None
        if not 0 <= value <= 0xFF:
            raise BuildError(f"{where}: enum value {value} does not fit the one-byte ENUM type")
        if not isinstance(label, str) or not label:
            raise BuildError(f"{where}: enum label for {value} must be a non-empty string")
        if value in result:
            raise BuildError(f"{where}: enum value {value} appears twice")
        result[value] = label
    return result


def read_oids(path: Path) -> list[OidRow]:
    rows: list[OidRow] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {
            "object_id",
            "index",
            "group",
            "name",
            "request_type",
            "response_type",
            "unit",
            "description",
            "enum_values",
        } - set(reader.fieldnames or ())
        if missing:
            raise BuildError(f"{path}: missing columns {sorted(missing)}")
        for record in reader:
            where = _where(path, reader.line_num)
            raw_id = record["object_id"].strip()
            try:
                object_id = int(raw_id, 16)
            except ValueError:
                raise BuildError(f"{where}: object_id {raw_id!r} is not hexadecimal") from None
            if not 0 <= object_id <= 0xFFFFFFFF:
                raise BuildError(f"{where}: object_id {raw_id} does not fit 32 bits")
            try:
                index = int(record["index"])
            except ValueError:
                raise BuildError(f"{where}: index {record['index']!r} is not an integer") from None
            name = record["name"].strip()
            if not name:
                raise BuildError(f"{where}: empty name")
            group = record["group"].strip().upper()
            request_type = record["request_type"].strip().upper()
            response_type = record["response_type"].strip().upper()
            for label, value in (("request_type", request_type), ("response_type", response_type)):
                if value not in DATA_TYPE_NAMES:
                    raise BuildError(f"{where}: unknown {label} {value!r}")
            is_enum = "ENUM" in (request_type, response_type)
            raw_enum = record["enum_values"].strip()
            enum: dict[int, str] | None = None
            if is_enum:
                enum = parse_enum(raw_enum, where) if raw_enum else {}
            elif raw_enum and parse_enum(raw_enum, where):
                raise BuildError(f"{where}: {name} has enum_values but no ENUM data type")
            rows.append(
                OidRow(
                    object_id=object_id,
                    index=index,
                    group=group,
                    name=name,
                    request_type=request_type,
                    response_type=response_type,
                    unit=record["unit"].strip(),
                    description=record["description"].strip(),
                    enum=enum,
                )
            )
    _check_unique(path, "object_id", (f"0x{row.object_id:08X}" for row in rows))
    _check_unique(path, "name", (row.name for row in rows))
    return sorted(rows, key=lambda row: row.object_id)


def _check_unique(path: Path, what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    duplicates: set[str] = set()
    for value in values:
        if value in seen:
            duplicates.add(value)
        seen.add(value)
    if duplicates:
        raise BuildError(f"{path}: duplicate {what}: {', '.join(sorted(duplicates))}")


def read_faults(path: Path, oids: Sequence[OidRow]) -> list[tuple[int, str, str]]:
    types_by_name = {row.name: row.response_type for row in oids}
    rows: list[tuple[int, str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"bit", "oid_name", "description"} - set(reader.fieldnames or ())
        if missing:
            raise BuildError(f"{path}: missing columns {sorted(missing)}")
        for record in reader:
            where = _where(path, reader.line_num)
            try:
                bit = int(record["bit"])
            except ValueError:
                raise BuildError(f"{where}: bit {record['bit']!r} is not an integer") from None
            if not 0 <= bit < FAULT_WORDS * BITS_PER_WORD:
                raise BuildError(f"{where}: bit {bit} is outside of 0..{FAULT_WORDS * BITS_PER_WORD - 1}")
            oid_name = record["oid_name"].strip()
            expected = f"fault[{bit // BITS_PER_WORD}].flt"
            if oid_name != expected:
                raise BuildError(f"{where}: bit {bit} belongs to {expected}, not {oid_name!r}")
            if types_by_name.get(oid_name) != "UINT32":
                raise BuildError(f"{where}: {oid_name} is not a UINT32 OID of {REGISTRY_FILE}")
            description = record["description"].strip()
            if not description:
                raise BuildError(f"{where}: empty description for bit {bit}")
            rows.append((bit, oid_name, description))
    _check_unique(path, "bit", (str(bit) for bit, _, _ in rows))
    return sorted(rows)


def render_registry(rows: Sequence[OidRow], source: str) -> str:
    lines = [
        f"# rctclient OID registry: generated by tools/build_registry.py from {source}; do not edit.",
        "\t".join(REGISTRY_COLUMNS),
    ]
    for row in rows:
        enum = ""
        if row.enum:
            enum = "|".join(f"{value}={escape(label, '|')}" for value, label in sorted(row.enum.items()))
        fields = (
            f"0x{row.object_id:08X}",
            str(row.index),
            row.group,
            row.name,
            row.request_type,
            row.response_type,
            row.unit,
            row.description,
        )
        # Empty trailing fields are left out, so that no line ends in white space.
        static = "1" if row.static else ""
        lines.append("\t".join([*(escape(field) for field in fields), enum, static]).rstrip("\t"))
    return "\n".join(lines) + "\n"


def render_faults(rows: Sequence[tuple[int, str, str]], source: str) -> str:
    lines = [
        f"# rctclient fault bits: generated by tools/build_registry.py from {source}; do not edit.",
        "# Bit N is bit N % 32 of the UINT32 OID fault[N // 32].flt.",
        "\t".join(FAULTS_COLUMNS),
    ]
    lines.extend(f"{bit}\t{escape(oid_name)}\t{escape(description)}" for bit, oid_name, description in rows)
    return "\n".join(lines) + "\n"


def find_table(shared: Path, filename: str) -> Path:
    for candidate in (shared / "reference" / filename, shared / filename):
        if candidate.is_file():
            return candidate
    raise BuildError(f"{filename} not found in {shared / 'reference'} or {shared}")


def generate(shared: Path) -> dict[str, str]:
    """Return the content of every generated file, by file name."""
    oids_path = find_table(shared, "oids.csv")
    faults_path = find_table(shared, "faults.csv")
    oids = read_oids(oids_path)
    faults = read_faults(faults_path, oids)
    return {
        REGISTRY_FILE: render_registry(oids, oids_path.name),
        FAULTS_FILE: render_faults(faults, faults_path.name),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help=f"directory holding reference/oids.csv and reference/faults.csv (default: {DEFAULT_SHARED})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write anything; exit 1 if the committed data files differ from what would be generated",
    )
    args = parser.parse_args(argv)
    try:
        files = generate(args.shared)
    except (BuildError, OSError) as exc:
        print(f"build_registry: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = []
        for filename, content in files.items():
            target = DATA_DIR / filename
            try:
                current = target.read_text(encoding="utf-8")
            except FileNotFoundError:
                current = None
            if current != content:
                state = "missing" if current is None else "differs"
                stale.append(f"{target.relative_to(REPO_ROOT)} ({state})")
        if stale:
            print(
                "build_registry: the committed data files are out of date:\n  "
                + "\n  ".join(stale)
                + "\nRun `python tools/build_registry.py` and commit the result.",
                file=sys.stderr,
            )
            return 1
        print(f"build_registry: {', '.join(files)} are up to date.")
        return 0
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for filename, content in files.items():
        (DATA_DIR / filename).write_text(content, encoding="utf-8", newline="\n")
        print(f"build_registry: wrote {(DATA_DIR / filename).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
