"""Facts about the catalog that many pages share, computed once per build."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from markupsafe import Markup, escape

from ..fnv import fnv1a
from ..result import BuildResult

#: Neighbours shown per model on the explore page, and for the lead model on title pages.
NB_SHOW = 10
#: Neighbours a title page shows for each other model (explore shows all :data:`NB_SHOW`): the
#: whole site stays within ~10 KB per title (issue 18: GitHub Pages' 1 GB at 100k titles).
NB_SHOW_OTHERS = 3
#: Items per neighbour shard (``data/nb/<n>.json``), on average.
NB_BLOCK = 16


def _id_key(iid: str) -> tuple:
    return (0, int(iid), iid) if iid.isdigit() else (1, 0, iid)


@dataclass(frozen=True, eq=False)
class Prepared:
    """Per-item facts in catalog order, plus the neighbour lists re-indexed to the catalog."""

    result: BuildResult
    #: ``{(kind, MAL id): extra names}`` (:mod:`.aliases`), for search and "Also known as".
    aliases: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)

    @cached_property
    def items(self):
        return self.result.catalog.items

    @cached_property
    def alt_titles(self) -> list[tuple[str, ...]]:
        """Each item's alternative titles, plus its names from the alias file."""
        from .aliases import with_aliases

        return with_aliases(self.items, self.aliases)

    @cached_property
    def tags(self) -> tuple[str, ...]:
        """The tag vocabulary (index = tag number in the JSON files)."""
        return self.result.catalog.tag_vocabulary

    @cached_property
    def tag_index(self) -> dict[str, int]:
        return {t: k for k, t in enumerate(self.tags)}

    @cached_property
    def tag_groups(self) -> list[list]:
        """``[[group, [tag numbers]], ...]`` in display order."""
        groups: dict[str, list[int]] = {}
        for tag, group in self.result.catalog.tag_group_of.items():
            groups.setdefault(group, []).append(self.tag_index[tag])
        from ..catalog import TAG_GROUPS

        order = [g for g in TAG_GROUPS if g in groups] + sorted(g for g in groups if g not in TAG_GROUPS)
        return [[g, sorted(groups[g])] for g in order]

    @cached_property
    def item_tags(self) -> list[tuple[int, ...]]:
        """Tag numbers of each item, sorted."""
        ti = self.tag_index
        return [tuple(sorted(ti[t] for t in item.tag_list)) for item in self.items]

    @cached_property
    def tag_counts(self) -> dict[str, int]:
        """Titles per tag name."""
        counts = np.zeros(len(self.tags), dtype=np.int64)
        for t in self.item_tags:
            counts[list(t)] += 1
        return {name: int(c) for name, c in zip(self.tags, counts)}

    @cached_property
    def item_tag_sets(self) -> list[frozenset]:
        return [frozenset(t) for t in self.item_tags]

    @cached_property
    def models(self) -> tuple[str, ...]:
        shown = [m for m in self.result.config.site.models if m in self.result.neighbours]
        extra = [m for m in self.result.neighbours if m not in shown]
        return tuple(shown + extra)

    @cached_property
    def member_score(self) -> dict[str, float]:
        """``{model: score}`` for list models that only show entries scoring at least that
        (the "same series" list shows its members: ``Embedding.membership.member_score``)."""
        out = {}
        for m in self.models:
            emb = self.result.embeddings.get(m)
            v = emb.membership.member_score if emb is not None and emb.membership is not None else None
            if v is not None:
                out[m] = v
        return out

    @cached_property
    def series_model(self) -> str | None:
        """The model shown as "Same series" (apart from the similar-title columns, its spec's
        ``apart``), if built."""
        from ..models import REGISTRY

        return next((m for m in self.models if m in REGISTRY and REGISTRY[m].apart), None)

    @cached_property
    def lead_model(self) -> str | None:
        """The model of a title page's "Similar titles" (its 10 neighbours, with the tags each
        shares): the published model (the one the visitor's taste is fitted against), else the
        first shown model; never the series list."""
        published = self.result.report.published
        similar = [m for m in self.models if m != self.series_model]
        if published is not None and published.model in similar:
            return published.model
        return similar[0] if similar else None

    @cached_property
    def neighbours(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{model: (positions (n, NB_SHOW) int64 into the catalog, -1 = none; scores float)}``."""
        index = self.result.catalog.index
        n = len(self.items)
        out = {}
        for m in self.models:
            nb = self.result.neighbours[m]
            k = min(NB_SHOW, nb.k)
            to_cat = np.array([index.get(i, -1) for i in nb.item_ids], dtype=np.int64)
            pos = np.full((n, k), -1, dtype=np.int64)
            sc = np.zeros((n, k), dtype=np.float64)
            rows = to_cat >= 0
            src = np.flatnonzero(rows)
            idx = nb.indices[src, :k].astype(np.int64)
            mapped = np.where(idx >= 0, to_cat[np.clip(idx, 0, None)], -1)
            pos[to_cat[src]] = mapped
            sc[to_cat[src]] = nb.scores[src, :k]
            floor = self.member_score.get(m)
            if floor is not None:  # only the members of the item's series are shown
                pos[sc < floor - 1e-6] = -1
            out[m] = (pos, sc)
        return out

    @cached_property
    def same_work(self) -> list[list[int]]:
        """Each title's work's titles (``Catalog.work_of``), itself included, ascending."""
        work = self.result.catalog.work_of.tolist()
        groups: dict[int, list[int]] = {}
        for p, w in enumerate(work):
            groups.setdefault(w, []).append(p)
        return [groups[w] for w in work]

    @cached_property
    def kind_labels(self) -> list[str]:
        """What sets each title apart from its neighbours at a glance: its kind (``anime``,
        ``manga``) when the catalog mixes kinds, and its type (``TV``, ``Movie``, ``Manhwa``)
        when it says more than the kind; ``""`` when neither tells anything."""
        mixed = len({it.kind for it in self.items}) > 1
        out = []
        for it in self.items:
            parts = [it.kind] if mixed else []
            if it.type and it.type.casefold() != it.kind.casefold():
                parts.append(it.type)
            out.append(" · ".join(parts))
        return out

    @cached_property
    def esc_kind_labels(self) -> list[str]:
        return [f' <span class="kind">{escape(k)}</span>' if k else "" for k in self.kind_labels]

    @cached_property
    def nb_shards(self) -> int:
        """Number of neighbour shards."""
        return max(1, math.ceil(len(self.items) / NB_BLOCK))

    @cached_property
    def shard_of(self) -> list[int]:
        s = self.nb_shards
        return [fnv1a(item.id) % s for item in self.items]

    @cached_property
    def feed_order(self) -> str:
        """How :attr:`recent` orders the catalog: ``uploads`` (latest chapter upload, when the
        source gives it, e.g. a fetched MangaDex catalog), ``dates`` (release date or year) or
        ``ids`` (neither: larger id = added later)."""
        if any(it.updated for it in self.items):
            return "uploads"
        return "dates" if any(it.date or it.year is not None for it in self.items) else "ids"

    @cached_property
    def recent(self) -> list[int]:
        """Catalog positions, most recent first. With upload times (:attr:`feed_order`
        ``uploads``): by the latest upload, titles without one after. Otherwise by year (the
        date's, else ``year``), then by the full date within a year (a dated title before a
        year-only one of the same year), then by id (larger = newer; the only order a catalog
        without dates has)."""

        def key(p: int):
            it = self.items[p]
            year = it.year
            if it.date and it.date[:4].isdigit():
                year = int(it.date[:4])
            return (it.updated or "", year if year is not None else -(10**9), it.date or "", _id_key(it.id))

        return sorted(range(len(self.items)), key=key, reverse=True)

    @cached_property
    def by_popularity(self) -> list[int]:
        """Catalog positions, most popular first (ties by id)."""
        return [int(p) for p in np.argsort(self.result.catalog.tie_order, kind="stable")]

    @cached_property
    def popularity_rank(self) -> np.ndarray:
        return self.result.catalog.tie_order

    @cached_property
    def tag_masks(self) -> list[int]:
        """Each item's tags as a bit mask (bit ``t`` = tag number ``t``)."""
        return [sum(1 << t for t in tags) for tags in self.item_tags]

    @cached_property
    def _shared_cache(self) -> dict[int, tuple[tuple[int, ...], str]]:
        return {}

    def shared_mask(self, mask: int) -> tuple[tuple[int, ...], str]:
        """``(tag numbers, escaped comma-separated names)`` of a tag mask (cached)."""
        hit = self._shared_cache.get(mask)
        if hit is None:
            bits, m = [], mask
            while m:
                low = m & -m
                bits.append(low.bit_length() - 1)
                m ^= low
            tags = tuple(bits)
            hit = (tags, ", ".join(self.esc_tags[t] for t in tags))
            self._shared_cache[mask] = hit
        return hit

    def shared(self, a: int, b: int) -> list[int]:
        """Tag numbers two items share, sorted."""
        return list(self.shared_mask(self.tag_masks[a] & self.tag_masks[b])[0])

    @cached_property
    def esc_tags(self) -> list[str]:
        return [str(escape(t)) for t in self.tags]

    @cached_property
    def esc_titles(self) -> list[str]:
        return [str(escape(it.title)) for it in self.items]

    @cached_property
    def esc_ids(self) -> list[str]:
        return [str(escape(it.id)) for it in self.items]

    @cached_property
    def slugs(self) -> list[str]:
        """Each item's page folder under ``title/`` (:mod:`.slug`: a UUID in 22 characters)."""
        from .slug import slugs

        return slugs([it.id for it in self.items])

    @cached_property
    def neighbour_lists(self) -> dict[str, tuple[list[list[int]], list[list[float]]]]:
        """:attr:`neighbours` as Python lists (fast to iterate)."""
        return {m: (pos.tolist(), sc.tolist()) for m, (pos, sc) in self.neighbours.items()}

    @cached_property
    def score_text(self) -> dict[str, list[list[str]]]:
        """Scores formatted with three decimals, per model (formatted once, on first use: title
        pages print the scores of two lists only)."""
        return _ScoreText(self.neighbours)

    @cached_property
    def score_milli(self) -> dict[str, list[list[int]]]:
        """Scores in thousandths (the neighbour shards' compact form)."""
        return {m: np.rint(sc * 1000).astype(np.int64).tolist() for m, (_, sc) in self.neighbours.items()}

    @cached_property
    def score_deltas(self) -> dict[str, list[list[int]]]:
        """:attr:`score_milli` delta-coded (the neighbour shards' form): the first, then each
        one's drop from the one before; a row's first ``j`` are those of its first ``j`` scores."""
        out = {}
        for m, (_, sc) in self.neighbours.items():
            milli = np.rint(sc * 1000).astype(np.int64)
            d = milli.copy()
            d[:, 1:] = milli[:, :-1] - milli[:, 1:]
            out[m] = d.tolist()
        return out

    @lru_cache(maxsize=8)  # noqa: B019 - a Prepared lives for one build; the cache dies with it
    def links(self, prefix: str) -> list[str]:
        """``<a href="{prefix}{slug}/">{title}</a>`` for every item (escaped), per ``prefix``: the
        relative path to the ``title/`` folder (``"../"`` from a title page)."""
        return [f'<a href="{prefix}{escape(s)}/">{t}</a>' for s, t in zip(self.slugs, self.esc_titles)]

    def has_neighbours(self, p: int, model: str) -> bool:
        """Whether item ``p`` has any neighbour shown under ``model`` (a series list may have none)."""
        return any(q >= 0 for q in self.neighbour_lists[model][0][p])

    def shared_text(self, p: int, q: int) -> str:
        """The tags ``q`` shares with ``p``, in the shorter of two forms (``p``'s tags are listed
        above its list): "all N tags" when ``q`` has every one of ``p``'s N ≥ 2 tags, "all but X, Y"
        when naming the few it lacks is shorter than naming those it shares, else the shared tags'
        names; ``""`` when none."""
        mine, both = self.tag_masks[p], self.tag_masks[p] & self.tag_masks[q]
        if both == mine and len(self.item_tags[p]) >= 2:
            return f"all {len(self.item_tags[p])} tags"
        named = self.shared_mask(both)[1]
        if both:
            lacks = "all but " + self.shared_mask(mine & ~both)[1]
            if len(lacks) < len(named):
                return lacks
        return named

    def neighbour_html(self, p: int, model: str, prefix: str, *, limit: int = NB_SHOW) -> Markup:
        """Item ``p``'s first ``limit`` neighbours under ``model`` as ``<li>`` rows: the link, the
        neighbour's kind label, its similarity and, in ``<small>``, the tags it shares with ``p``
        (:meth:`shared_text`). Built from pre-escaped strings (fast: a title page has two lists)."""
        pos = self.neighbour_lists[model][0][p][:limit]
        text = self.score_text[model][p]
        links, kinds = self.links(prefix), self.esc_kind_labels
        rows = []
        for q, s in zip(pos, text):
            if q < 0:
                continue
            shared = self.shared_text(p, q)
            rows.append(f"<li>{links[q]}{kinds[q]} {s}" + (f"<small>{shared}</small></li>" if shared else "</li>"))
        return Markup("\n".join(rows) if rows else '<li class="none">No neighbours.</li>')

    def top_lines(
        self, p: int, models: Sequence[str], prefix: str, linked: set[int], *, limit: int = NB_SHOW_OTHERS
    ) -> list[tuple[list[str], Markup]]:
        """Each model's top ``limit`` for item ``p`` on one line, ``[(models, html)]``: models with
        the same top ``limit`` share a line, and a title is linked once per page: those in
        ``linked`` (the positions linked above, updated here) are named without their link."""
        lines: list[tuple[list[str], list[int]]] = []
        for m in models:
            top = [q for q in self.neighbour_lists[m][0][p][:limit] if q >= 0]
            same = next((names for names, t in lines if t == top), None)
            if same is None:
                lines.append(([m], top))
            else:
                same.append(m)
        links, titles, out = self.links(prefix), self.esc_titles, []
        for names, top in lines:
            parts = [titles[q] if q in linked else links[q] for q in top]
            linked.update(top)
            out.append((names, Markup(" · ".join(parts) or '<span class="none">none</span>')))
        return out


class _ScoreText(dict):
    """``{model: rows of scores as text}``, each model's formatted on first use."""

    def __init__(self, neighbours: Mapping[str, tuple[np.ndarray, np.ndarray]]):
        super().__init__()
        self._neighbours = neighbours

    def __missing__(self, model: str) -> list[list[str]]:
        fmt = "{:.3f}".format
        rows = [list(map(fmt, row)) for row in self._neighbours[model][1].tolist()]
        self[model] = rows
        return rows
