"""Schema and consistency checks for the bundled default catalog.

The catalog (``site_src/catalog/default.jsonl``) is hand-written from public
knowledge; these tests keep it well-formed so that the first README command
can build a site from it on a fresh machine.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from mangarec.tags import CANONICAL, DEFAULT_ADULT_TAGS

CATALOG = Path(__file__).resolve().parents[1] / "site_src/catalog/default.jsonl"

KEYS = [
    "id",
    "title",
    "alt_titles",
    "kind",
    "type",
    "year",
    "date",
    "tags",
    "description",
    "popularity",
    "score",
    "external",
    "related",
    "adult",
]
OPTIONAL_KEYS = {"date"}
ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
TYPES = {
    "anime": {"TV", "Movie", "OVA", "ONA", "Special"},
    "manga": {"Manga", "Manhwa", "Manhua", "Light Novel", "Oneshot"},
}
#: The one source of truth for tag names (mangarec.tags), not a copy of it.
VOCABULARY = {group: set(names) for group, names in CANONICAL.items()}
#: Announced titles may carry next year's date; nothing later.
LATEST_YEAR = datetime.date.today().year + 1
INVERSE_RELATION = {
    "Adaptation": "Adaptation",
    "Source": "Adaptation",
    "Sequel": "Prequel",
    "Prequel": "Sequel",
    "Side Story": "Parent Story",
    "Parent Story": "Side Story",
    "Alternative Version": "Alternative Version",
}


@pytest.fixture(scope="module")
def raw_lines() -> list[str]:
    data = CATALOG.read_bytes()
    text = data.decode("utf-8")  # raises if the file is not UTF-8
    assert text.endswith("\n"), "catalog must end with a newline"
    assert "\r" not in text, "catalog must use LF line endings"
    return text.split("\n")[:-1]


@pytest.fixture(scope="module")
def items(raw_lines: list[str]) -> list[dict]:
    parsed = []
    for number, line in enumerate(raw_lines, 1):
        assert line.strip(), f"line {number} is blank"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - failure path
            pytest.fail(f"line {number}: invalid JSON: {exc}")
        assert isinstance(obj, dict), f"line {number}: not a JSON object"
        parsed.append(obj)
    return parsed


@pytest.fixture(scope="module")
def by_id(items: list[dict]) -> dict[str, dict]:
    return {item["id"]: item for item in items}


def test_size(items: list[dict]) -> None:
    assert len(items) >= 300
    kinds = Counter(item["kind"] for item in items)
    assert kinds["anime"] >= 120, kinds
    assert kinds["manga"] >= 120, kinds


def test_exact_keys_in_order(items: list[dict]) -> None:
    for item in items:
        keys = list(item)
        expected = [k for k in KEYS if k not in OPTIONAL_KEYS or k in item]
        assert keys == expected, f"{item.get('id')}: keys {keys}"


def test_ids_unique_and_well_formed(items: list[dict]) -> None:
    ids = [item["id"] for item in items]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, duplicates
    bad = [i for i in ids if not isinstance(i, str) or not ID_RE.match(i)]
    assert not bad, bad


def test_kind_type_and_id_prefix(items: list[dict]) -> None:
    for item in items:
        kind = item["kind"]
        assert kind in TYPES, f"{item['id']}: kind {kind!r}"
        assert item["type"] in TYPES[kind], f"{item['id']}: type {item['type']!r}"
        prefix = "a" if kind == "anime" else "m"
        assert item["id"].startswith(prefix), f"{item['id']}: id prefix does not match kind"


def test_external_mal_matches_id(items: list[dict]) -> None:
    for item in items:
        external = item["external"]
        assert isinstance(external, dict), item["id"]
        assert set(external) <= {"mal"}, item["id"]
        numeric = re.fullmatch(r"[am](\d+)", item["id"])
        if "mal" in external:
            assert numeric and external["mal"] == numeric.group(1), item["id"]
        else:
            # slug ids are used exactly when no MyAnimeList id is claimed
            assert item["id"][1] == "-", item["id"]


def test_text_fields(items: list[dict]) -> None:
    for item in items:
        assert isinstance(item["title"], str) and item["title"].strip(), item["id"]
        assert isinstance(item["alt_titles"], list), item["id"]
        assert all(isinstance(t, str) and t.strip() for t in item["alt_titles"]), item["id"]
        assert isinstance(item["description"], str), item["id"]
        assert 20 <= len(item["description"]) <= 400, item["id"]
        assert "<" not in item["description"], f"{item['id']}: markup in description"


def test_tags_use_canonical_vocabulary(items: list[dict]) -> None:
    for item in items:
        tags = item["tags"]
        assert isinstance(tags, dict), item["id"]
        total = 0
        for group, names in tags.items():
            assert group in VOCABULARY, f"{item['id']}: unknown tag group {group!r}"
            assert isinstance(names, list) and names, f"{item['id']}: empty group {group}"
            assert len(names) == len(set(names)), f"{item['id']}: duplicate tag in {group}"
            unknown = set(names) - VOCABULARY[group]
            assert not unknown, f"{item['id']}: {group} tags {sorted(unknown)}"
            assert not set(names) & set(DEFAULT_ADULT_TAGS), f"{item['id']}: adult tag in the bundled catalog"
            total += len(names)
        assert total >= 3, f"{item['id']}: only {total} tags"
        assert len(tags.get("demographic", [])) <= 1, f"{item['id']}: several demographics"


def test_webtoon_and_oneshot_formats(items: list[dict]) -> None:
    for item in items:
        formats = set(item["tags"].get("format", []))
        if "Long Strip" in formats:
            assert {"Web Comic", "Full Color"} <= formats, item["id"]
        if item["type"] == "Oneshot":
            assert "Oneshot" in formats, item["id"]


def test_year_date_popularity_score(items: list[dict]) -> None:
    for item in items:
        year = item["year"]
        assert type(year) is int and 1950 <= year <= LATEST_YEAR, item["id"]
        if "date" in item:
            match = DATE_RE.match(item["date"])
            assert match, f"{item['id']}: bad date {item['date']!r}"
            assert int(match.group(1)) == year, f"{item['id']}: date and year disagree"
            assert 1 <= int(match.group(2)) <= 12 and 1 <= int(match.group(3)) <= 31
        pop = item["popularity"]
        assert type(pop) is int and 1 <= pop <= 100, item["id"]
        score = item["score"]
        assert type(score) in (int, float) and 1 <= score <= 10, item["id"]
        assert round(score, 1) == score, f"{item['id']}: score has more than one decimal"


def test_no_adult_titles(items: list[dict]) -> None:
    assert all(item["adult"] is False for item in items)
    for item in items:
        genres = set(item["tags"].get("genre", []))
        assert not genres & {"Hentai", "Smut", "Sexual Violence"}, item["id"]


def test_related_ids_exist_and_are_reciprocal(items: list[dict], by_id: dict[str, dict]) -> None:
    for item in items:
        assert isinstance(item["related"], list), item["id"]
        seen = set()
        for rel in item["related"]:
            assert set(rel) == {"id", "type"}, item["id"]
            other, kind = rel["id"], rel["type"]
            assert other in by_id, f"{item['id']}: related id {other} not in catalog"
            assert other != item["id"], f"{item['id']}: relates to itself"
            assert kind in INVERSE_RELATION, f"{item['id']}: relation type {kind!r}"
            assert (other, kind) not in seen, f"{item['id']}: duplicate relation {other}"
            seen.add((other, kind))
            back = {(r["id"], r["type"]) for r in by_id[other]["related"]}
            assert (item["id"], INVERSE_RELATION[kind]) in back, f"{item['id']} -> {other} ({kind}) has no reverse link"
            if kind in ("Adaptation", "Source"):
                assert by_id[other]["kind"] != item["kind"], f"{item['id']} -> {other}"
            else:
                assert by_id[other]["kind"] == item["kind"], f"{item['id']} -> {other}"


def test_anime_adapted_from_catalog_manga_carry_adaptation_tag(items: list[dict], by_id: dict[str, dict]) -> None:
    for item in items:
        if item["kind"] != "anime":
            continue
        if any(by_id[r["id"]]["kind"] == "manga" for r in item["related"]):
            assert "Adaptation" in item["tags"].get("format", []), item["id"]


def test_many_anime_manga_pairs(items: list[dict]) -> None:
    pairs = sum(
        1 for item in items if item["kind"] == "anime" for rel in item["related"] if rel["type"] == "Adaptation"
    )
    assert pairs >= 100, pairs


def test_sorted_by_kind_then_id(items: list[dict]) -> None:
    keys = [(item["kind"], item["id"]) for item in items]
    assert keys == sorted(keys)


def test_compact_serialisation(raw_lines: list[str], items: list[dict]) -> None:
    for line, item in zip(raw_lines, items):
        assert line == json.dumps(item, ensure_ascii=False, separators=(",", ":")), item["id"]
