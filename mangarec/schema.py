"""The machinery of the typed configuration schema (MkDocs' config is the model).

A section is a frozen dataclass whose fields are made with :func:`key`: a default, a
docstring and an optional check. :func:`build` turns a parsed TOML table into a section,
rejecting unknown keys, wrong types (list items included) and values a check refuses, with one
line naming the file, the key and the value. :func:`describe` lists a schema for
``--help-config``. Every size key carries an upper bound (:func:`bounded`), so no
configuration can ask for a runaway allocation.

This module imports nothing of the package: model modules declare their parameter sections
with it, and :mod:`mangarec.config` assembles them into the whole schema.
"""

from __future__ import annotations

import copy
import functools
import math
import typing
from collections.abc import Callable
from dataclasses import MISSING, Field, field, fields, is_dataclass
from typing import Any

from .errors import ConfigError

Check = Callable[[Any], "str | None"]


def key(default: Any, doc: str, check: Check | None = None) -> Any:
    """A documented configuration key (a dataclass field).

    Parameters
    ----------
    default:
        The default value (lists and dicts are copied per instance).
    doc:
        One or two sentences: what the key does (shown by ``--help-config`` and in the
        shipped ``site.toml``).
    check:
        ``check(value) -> None | "problem"``, run on values read from a file.
    """
    meta = {"doc": doc, "check": check}
    if isinstance(default, (list, dict)):
        return field(default_factory=functools.partial(copy.copy, default), metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type, doc: str) -> Any:
    """A nested section field (``[models.lsi]`` ...) defaulting to ``cls()``."""
    return field(default_factory=cls, metadata={"doc": doc, "section": cls})


def bounded(lo: float, hi: float) -> Check:
    """``lo <= value <= hi`` (inclusive): every size key has one."""
    return lambda v: None if lo <= v <= hi else f"must be between {_num(lo)} and {_num(hi)}"


def _num(x: float) -> str:
    return f"{int(x):,}".replace(",", "_") if float(x).is_integer() and abs(x) >= 10_000 else f"{x:g}"


def fraction(v: Any) -> str | None:
    """Strictly between 0 and 1."""
    return None if 0 < v < 1 else "must be between 0 and 1 (exclusive)"


def unit(v: Any) -> str | None:
    """Between 0 and 1 inclusive."""
    return None if 0 <= v <= 1 else "must be between 0 and 1"


def one_of(*choices: str) -> Check:
    """One of the given strings."""
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def all_of(*checks: Check) -> Check:
    """Every check in turn; the first problem wins."""

    def check(v: Any) -> str | None:
        for c in checks:
            problem = c(v)
            if problem:
                return problem
        return None

    return check


def max_items(n: int) -> Check:
    """A list of at most ``n`` items."""
    return lambda v: None if len(v) <= n else f"must have at most {n} items"


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}


def _type_name(typ: Any) -> str:
    origin = typing.get_origin(typ)
    if origin is list:
        (inner,) = typing.get_args(typ) or (Any,)
        return f"a list of {_type_name(inner)[2:] if _type_name(inner).startswith('a ') else _type_name(inner)}s"
    return _TYPE_NAMES.get(typ, getattr(typ, "__name__", str(typ)))


def _coerce(value: Any, typ: Any, where: str, source: str) -> Any:
    """``value`` as ``typ`` (int accepted for float; list items checked), or a ConfigError."""
    origin = typing.get_origin(typ)
    if origin is list:
        (inner,) = typing.get_args(typ) or (Any,)
        if not isinstance(value, list):
            raise ConfigError(f"{where} = {value!r}: must be {_type_name(typ)}", source)
        if inner is Any:
            return list(value)
        return [_coerce(v, inner, f"{where}[{k}]", source) for k, v in enumerate(value)]
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))
    if ok and typ is float and not math.isfinite(value):
        raise ConfigError(f"{where} = {value!r}: must be a finite number", source)
    if not ok:
        raise ConfigError(f"{where} = {value!r}: must be {_type_name(typ)}", source)
    return value


def _section_of(f: Field, hints: dict[str, Any]) -> type | None:
    """The section class of a field made with :func:`section` (or typed as a dataclass)."""
    cls = f.metadata.get("section")
    if cls is not None:
        return cls
    typ = hints.get(f.name)
    return typ if isinstance(typ, type) and is_dataclass(typ) else None


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def build(cls: type, data: Any, prefix: str, source: str, problems: list[ConfigError] | None = None) -> Any:
    """A ``cls`` instance from a parsed TOML table (see the module docstring).

    With ``problems`` (a list), every problem is appended to it instead of raised (each key is
    checked; a bad one is left out) and the result is ``None`` when there was any: what
    ``mangarec config --check`` prints, one line each.

    Raises
    ------
    ConfigError
        One line: ``<source>: <key> = <value>: <problem>`` (or an unknown key, a non-table),
        the first problem, unless ``problems`` collects them.
    """
    found: list[ConfigError] = []

    def fail(err: ConfigError) -> None:
        if problems is None:
            raise err
        found.append(err)

    if not isinstance(data, dict):
        fail(ConfigError(f"[{prefix}] must be a table", source))
        return None
    hints = _hints(cls)
    known = {f.name: f for f in fields(cls)}
    values = {}
    for name, value in data.items():
        where = f"{prefix}.{name}" if prefix else name
        f = known.get(name)
        if f is None:
            fail(ConfigError(f"unknown key {where!r} (known: {', '.join(sorted(known))})", source))
            continue
        sub = _section_of(f, hints)
        if sub is not None:
            values[name] = build(sub, value, where, source, found if problems is not None else None)
            continue
        try:
            value = _coerce(value, hints[name], where, source)
        except ConfigError as e:
            fail(e)
            continue
        check = f.metadata.get("check")
        problem = check(value) if check else None
        if problem:
            fail(ConfigError(f"{where} = {value!r}: {problem}", source))
            continue
        values[name] = value
    if found:
        assert problems is not None
        problems.extend(found)
        return None
    return cls(**values)


def default_of(f: Field) -> Any:
    """A field's default value (calling its factory if it has one)."""
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default


def describe(cls: type, prefix: str = "") -> list[str]:
    """Every key of the schema with its default and doc (``--help-config``), one entry each."""
    lines = []
    hints = _hints(cls)
    for f in fields(cls):
        where = f"{prefix}.{f.name}" if prefix else f.name
        sub = _section_of(f, hints)
        if sub is not None:
            lines.append(f"[{where}]  {(sub.__doc__ or '').strip().splitlines()[0]}")
            lines.extend(describe(sub, where))
            continue
        lines.append(f"  {where} = {default_of(f)!r}\n      {f.metadata.get('doc', '')}")
    return lines


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        import json

        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {v!r}")


def to_toml(cls: type, header: str = "") -> str:
    """The schema's defaults as a commented TOML file (the shipped ``site.toml`` is this text).

    Each key is preceded by its doc as comments; each section by its ``[name]`` and class doc.
    """
    import textwrap

    def comment(text: str) -> list[str]:
        plain = " ".join(text.replace("``", "").split())
        return ["# " + line for line in textwrap.wrap(plain, 94, break_on_hyphens=False)]

    out: list[str] = comment(header) if header else []

    def walk(c: type, prefix: str) -> None:
        hints = _hints(c)
        plain = [f for f in fields(c) if _section_of(f, hints) is None]
        for f in plain:
            out.extend(["", *comment(f.metadata.get("doc", "")), f"{f.name} = {_toml_value(default_of(f))}"])
        for f in fields(c):
            sub = _section_of(f, hints)
            if sub is None:
                continue
            where = f"{prefix}.{f.name}" if prefix else f.name
            if any(_section_of(g, _hints(sub)) is None for g in fields(sub)):
                out.extend(["", f"[{where}]", *comment((sub.__doc__ or "").strip().splitlines()[0])])
            walk(sub, where)

    walk(cls, "")
    return "\n".join(out).lstrip("\n") + "\n"


def make_section(name: str, doc: str, members: dict[str, tuple[type, str]], base: type = object) -> type:
    """A frozen section dataclass whose fields are other sections (``[models]`` from the registry).

    ``members`` maps a field name to ``(section class, doc)``, in order; the class derives from
    ``base`` (typed access: :class:`mangarec.models.ModelParams`).
    """
    from dataclasses import make_dataclass

    cls = make_dataclass(
        name,
        [(n, typ, section(typ, d)) for n, (typ, d) in members.items()],
        bases=(base,),
        frozen=True,
        namespace={"__doc__": doc, "__module__": "mangarec.config"},
    )
    return cls


__all__ = [
    "Check",
    "all_of",
    "bounded",
    "build",
    "default_of",
    "describe",
    "fraction",
    "key",
    "make_section",
    "max_items",
    "one_of",
    "section",
    "to_toml",
    "unit",
]
