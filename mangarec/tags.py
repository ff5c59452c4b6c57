"""Canonical tag names and the alias table that maps every source's names onto them.

Canonical names are MangaDex v5's tag names (``CANONICAL``, grouped as MangaDex groups them).
Older or other vocabularies are mapped by :data:`ALIASES`:

=====================  ====================  ==============================================
alias (source)         canonical             why
=====================  ====================  ==============================================
Yaoi (MangaDex v3,     Boys' Love            MangaDex v5 merged Yaoi and Shounen Ai
MAL)
Shounen Ai (v3, MAL)   Boys' Love            (same)
Yuri (v3, MAL)         Girls' Love           MangaDex v5 merged Yuri and Shoujo Ai
Shoujo Ai (v3, MAL)    Girls' Love           (same)
School (MAL)           School Life           same meaning, v5 name
Vampire (MAL)          Vampires              same meaning, v5 name
Sci Fi, SciFi          Sci-Fi                spelling variants
4-koma, 4 Koma         4-Koma                spelling variants
Full Colour,           Full Color /          British spelling
Official Coloured,     Official Colored /
Fan Coloured           Fan Colored
Slice Of Life          Slice of Life         capitalisation
Post Apocalyptic       Post-Apocalyptic      spelling variant
Gender Bender (MAL     Genderswap            same meaning, v5 name
manga genre)
Webtoon                Long Strip            MangaDex's name for the format
=====================  ====================  ==============================================

Decisions: MyAnimeList's ``Super Power`` is *not* mapped to ``Superhero`` (super powers are
not costumed heroes), nor ``Game`` to ``Video Games`` (MAL's Game covers board and card games),
nor ``Space`` to ``Aliens``: they keep their MAL names. MAL's demographic genres (Shounen,
Shoujo, Seinen, Josei) keep their names, which are also MangaDex's demographic names, but a MAL
item keeps every tag in the ``genre`` group (MAL has no groups). Names not in the table are
kept unchanged (after trimming white space), so unknown vocabularies still work.

Lookup ignores case and runs of white space: ``"shounen  ai"`` → ``"Boys' Love"``. Names are
first cleaned by :func:`mangarec.textclean.clean_line` (control and invisible characters
removed); a name with no visible character is ``""``, which :func:`canonical_tags` drops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .textclean import clean_line

#: MangaDex v5 tags by group (plus the v3 content tags Ecchi and Smut, which v5 turned into
#: content ratings but which MangaDex v3 data still carries).
CANONICAL: dict[str, tuple[str, ...]] = {
    "demographic": ("Josei", "Seinen", "Shoujo", "Shounen"),
    "content": ("Ecchi", "Gore", "Sexual Violence", "Smut"),
    "format": (
        "4-Koma",
        "Adaptation",
        "Anthology",
        "Award Winning",
        "Doujinshi",
        "Fan Colored",
        "Full Color",
        "Long Strip",
        "Official Colored",
        "Oneshot",
        "User Created",
        "Web Comic",
    ),
    "genre": (
        "Action",
        "Adventure",
        "Boys' Love",
        "Comedy",
        "Crime",
        "Drama",
        "Fantasy",
        "Girls' Love",
        "Historical",
        "Horror",
        "Isekai",
        "Magical Girls",
        "Mecha",
        "Medical",
        "Mystery",
        "Philosophical",
        "Psychological",
        "Romance",
        "Sci-Fi",
        "Slice of Life",
        "Sports",
        "Superhero",
        "Thriller",
        "Tragedy",
        "Wuxia",
    ),
    "theme": (
        "Aliens",
        "Animals",
        "Cooking",
        "Crossdressing",
        "Delinquents",
        "Demons",
        "Genderswap",
        "Ghosts",
        "Gyaru",
        "Harem",
        "Incest",
        "Loli",
        "Mafia",
        "Magic",
        "Martial Arts",
        "Military",
        "Monster Girls",
        "Monsters",
        "Music",
        "Ninja",
        "Office Workers",
        "Police",
        "Post-Apocalyptic",
        "Reincarnation",
        "Reverse Harem",
        "Samurai",
        "School Life",
        "Shota",
        "Supernatural",
        "Survival",
        "Time Travel",
        "Traditional Games",
        "Vampires",
        "Video Games",
        "Villainess",
        "Virtual Reality",
        "Zombies",
    ),
}

#: alias → canonical name (see the module docstring for the reasons).
ALIASES: dict[str, str] = {
    "Yaoi": "Boys' Love",
    "Shounen Ai": "Boys' Love",
    "Shonen Ai": "Boys' Love",
    "Boys Love": "Boys' Love",
    "Yuri": "Girls' Love",
    "Shoujo Ai": "Girls' Love",
    "Shojo Ai": "Girls' Love",
    "Girls Love": "Girls' Love",
    "School": "School Life",
    "Vampire": "Vampires",
    "Sci Fi": "Sci-Fi",
    "SciFi": "Sci-Fi",
    "4 Koma": "4-Koma",
    "4koma": "4-Koma",
    "Full Colour": "Full Color",
    "Official Coloured": "Official Colored",
    "Fan Coloured": "Fan Colored",
    "Post Apocalyptic": "Post-Apocalyptic",
    "Gender Bender": "Genderswap",
    "Webtoon": "Long Strip",
}

#: Tags that make an item adult by default (``--include-adult`` keeps them).
DEFAULT_ADULT_TAGS: tuple[str, ...] = ("Smut", "Sexual Violence", "Hentai")

#: ``{canonical name: group}`` for the MangaDex v5 vocabulary.
GROUP_OF: dict[str, str] = {name: g for g, names in CANONICAL.items() for name in names}

_SPACES = re.compile(r"\s+")


def _key(name: str) -> str:
    return _SPACES.sub(" ", name.strip()).casefold()


_LOOKUP: dict[str, str] = {_key(n): n for n in GROUP_OF}
_LOOKUP.update({_key(a): c for a, c in ALIASES.items()})


_MEMO: dict[str, str] = {}


def canonical_tag(name: str) -> str:
    """The canonical name of tag ``name`` (cleaned, else unchanged, if it is not in the table);
    ``""`` for a name with no visible character."""
    c = _MEMO.get(name)
    if c is None:
        clean = clean_line(name)
        c = _LOOKUP.get(_key(clean), clean)
        if len(_MEMO) < 100_000:
            _MEMO[name] = c
    return c


def canonical_tags(names: Iterable[str]) -> list[str]:
    """Canonical names of ``names``, in first-seen order, without duplicates or empty names."""
    memo = _MEMO
    out: list[str] = []
    for n in names:
        c = memo.get(n) or canonical_tag(n)
        if c and c not in out:
            out.append(c)
    return out
