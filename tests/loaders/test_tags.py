"""mangarec.tags: the alias table and canonical names."""

from __future__ import annotations

import pytest

from mangarec.tags import ALIASES, CANONICAL, DEFAULT_ADULT_TAGS, GROUP_OF, canonical_tag, canonical_tags


@pytest.mark.parametrize(
    "alias,canonical",
    [
        ("Yaoi", "Boys' Love"),
        ("Shounen Ai", "Boys' Love"),
        ("Yuri", "Girls' Love"),
        ("Shoujo Ai", "Girls' Love"),
        ("School", "School Life"),
        ("Vampire", "Vampires"),
        ("yaoi", "Boys' Love"),
        ("  shounen   ai ", "Boys' Love"),
        ("sci fi", "Sci-Fi"),
    ],
)
def test_aliases(alias, canonical):
    assert canonical_tag(alias) == canonical


@pytest.mark.parametrize("name", ["Super Power", "Game", "Space", "Hentai", "Kids", "Shounen", "Demons"])
def test_documented_non_mappings_keep_their_name(name):
    assert canonical_tag(name) == name


def test_every_alias_targets_a_canonical_name():
    for alias, target in ALIASES.items():
        assert target in GROUP_OF, (alias, target)
        assert alias not in GROUP_OF


def test_canonical_names_map_to_themselves_and_are_unique():
    names = [n for group in CANONICAL.values() for n in group]
    assert len(names) == len(set(names))
    for n in names:
        assert canonical_tag(n) == n
        assert canonical_tag(n.upper()) == n


def test_canonical_tags_dedupes_after_mapping():
    assert canonical_tags(["Yaoi", "Romance", "Shounen Ai", "", " Romance "]) == ["Boys' Love", "Romance"]


def test_default_adult_tags():
    assert set(DEFAULT_ADULT_TAGS) == {"Smut", "Sexual Violence", "Hentai"}
