"""Helpers shared by the loaders: JSON lines, field validation with one-line errors."""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Generator, Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson  # a dependency: it parses the 135 MB MangaDex file about 3x faster than json

from ..catalog import ID_PATTERN
from ..errors import InputError
from .io import iter_lines


def _parse_json(raw: bytes) -> Any:
    """orjson; the standard library where orjson refuses: json accepts lone surrogate escapes
    (``"\\ud800"``), valid JSON that the text cleaning then removes. A nesting too deep for
    either is a ValueError."""
    try:
        return orjson.loads(raw)
    except ValueError as first:
        try:
            return json.loads(raw)
        except RecursionError:
            raise ValueError("too deeply nested") from None
        except ValueError:
            raise first from None


def iter_json_lines(path: Path) -> Generator[tuple[int, Any], None, None]:
    """Yield ``(line number, parsed JSON value)`` for each non-blank line of a JSONL file.

    Raises
    ------
    InputError
        For invalid JSON ("file:12: invalid JSON: ..."), an incomplete last line (a truncated
        file), text that is not UTF-8, a broken compressed stream, or a file with no JSON line
        at all ("empty file").
    """
    src = str(path)
    count = 0
    with closing(iter_lines(path)) as lines:  # stops a reader thread at once on an error
        for n, raw in lines:
            if not raw.strip():
                continue
            try:
                value = _parse_json(raw)
            except UnicodeDecodeError as e:
                raise InputError(f"not valid UTF-8 text ({e.reason})", src, n) from None
            except RecursionError:
                raise InputError("invalid JSON: too deeply nested", src, n) from None
            except ValueError as e:
                if not raw.endswith(b"\n"):
                    raise InputError("truncated file: the last JSON line is incomplete", src, n) from None
                msg = str(e).split("\n")[0]
                raise InputError(f"invalid JSON: {msg}", src, n) from None
            count += 1
            yield n, value
    if count == 0:
        raise InputError("empty file (only blank lines, or nothing once decompressed)", src)


def type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
        int: "an integer",
        float: "a number",
    }.get(type(value), type(value).__name__)


class Fields:
    """Typed access to one record's fields; every failure names the file, line and field."""

    __slots__ = ("rec", "src", "line")

    def __init__(self, rec: Any, src: str, line: int | None):
        if not isinstance(rec, dict):
            raise InputError(f"expected a JSON object, got {type_name(rec)}", src, line)
        self.rec = rec
        self.src = src
        self.line = line

    def error(self, message: str) -> InputError:
        return InputError(message, self.src, self.line)

    def bad(self, key: str, expected: str, value: Any) -> InputError:
        return self.error(f"field {key!r} must be {expected}, got {type_name(value)}")

    def id(self, key: str = "id", value: Any = None) -> str:
        v = self.rec.get(key) if value is None else value
        if v is None:
            raise self.error(f"missing field {key!r}")
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise self.bad(key, "an integer or a string", v)
        s = str(v)
        if not ID_PATTERN.fullmatch(s):
            raise self.error(f"field {key!r}: invalid id {s[:70]!r} (letters, digits, _ and -, at most 64)")
        return s

    def title(self, value: Any, key: str = "title") -> str:
        if value is None:
            raise self.error(f"missing title (field {key!r})")
        if not isinstance(value, str):
            raise self.bad(key, "a string", value)
        t = " ".join(value.split())
        if not t:
            raise self.error(f"empty title (field {key!r})")
        return t

    def str(self, key: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        v = self.rec.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.bad(key, "a string", v)
        return v

    def bool(self, key: builtins.str, default: builtins.bool = False) -> builtins.bool:
        v = self.rec.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.bad(key, "true or false", v)
        return v

    def number(self, key: builtins.str, value: Any = None, *, use_value: builtins.bool = False) -> float | None:
        v = value if use_value else self.rec.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.bad(key, "a number", v)
        return float(v)

    def int(self, key: builtins.str) -> builtins.int | None:
        v = self.rec.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.bad(key, "an integer", v)
        return v

    def str_list(
        self, key: builtins.str, value: Any = None, *, use_value: builtins.bool = False
    ) -> builtins.list[builtins.str]:
        v = value if use_value else self.rec.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.bad(key, "a list of strings", v)
        for x in v:
            if not isinstance(x, str):
                raise self.error(f"field {key!r} must be a list of strings, found {type_name(x)}")
        return v

    def list(self, key: builtins.str) -> builtins.list:
        v = self.rec.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.bad(key, "a list", v)
        return v

    def dict(self, key: builtins.str) -> Mapping[builtins.str, Any]:
        v = self.rec.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.bad(key, "an object", v)
        return v


def external_ids(f: Fields, value: Mapping[str, Any], key: str = "external") -> tuple[tuple[str, str], ...]:
    """``{site: id}`` → sorted ``((site, id), ...)``; ids may be strings or integers."""
    out = []
    for k, v in value.items():
        if v is None or v == "":
            continue
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise f.error(f"field {key}.{k} must be a string or an integer, got {type_name(v)}")
        out.append((str(k), str(v)))
    return tuple(sorted(out))


def iter_csv_rows(path: Path, required: tuple[str, ...] = ()) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """``(header, rows)``: stream ``(line number, [values])`` from a CSV file with a header line.

    Raises
    ------
    InputError
        "file:1: missing columns: x, y" when a required column is absent; "file:N: expected
        7 fields, got 5" for a short or long row; decoding errors as in :func:`iter_lines`.
    """
    import csv

    from .io import iter_text_lines

    src = str(path)
    reader = csv.reader((text for _, text in iter_text_lines(path)), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("empty file, expected a CSV header", src, 1) from None
    except csv.Error as e:
        raise InputError(f"bad CSV: {e}", src, 1) from None
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"missing columns: {', '.join(missing)} (header: {','.join(header)[:120]})", src, 1)

    def rows() -> Iterator[tuple[int, list[str]]]:
        width = len(header)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise InputError(f"bad CSV: {e}", src, reader.line_num) from None
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                raise InputError(f"expected {width} fields, got {len(row)}", src, reader.line_num)
            yield reader.line_num, row

    return header, rows()


def iter_csv(path: Path, required: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream ``(line number, {column: value})`` from a CSV file (see :func:`iter_csv_rows`)."""
    header, rows = iter_csv_rows(path, required)
    for n, row in rows:
        yield n, dict(zip(header, row))


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV file (its first line)."""
    import csv

    from .io import first_line

    line = first_line(path)
    return [h.strip() for h in next(csv.reader([line]), [])]
