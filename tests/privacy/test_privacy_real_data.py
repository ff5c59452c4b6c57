"""End to end on real data: all 4,714 raters of anime-recdb, each holding only its rows."""

from __future__ import annotations

from collections import Counter

import pytest

from mangarec.privacy.dataset import read_ratings
from mangarec.privacy.simulate import simulate_collection


@pytest.mark.slow
def test_all_anime_recdb_raters_collected_as_unlinkable_lists(anime_dir):
    users = read_ratings(anime_dir / "ratings.csv.gz")
    assert len(users) == 4714
    res = simulate_collection(users, cohort=24, seed=2024, workers=2)
    assert res.lost_ratings == 0 and len(res.rows) == 419_943
    by: dict[str, list] = {}
    for p, i, r in res.rows:
        by.setdefault(p, []).append((i, r))
    assert len(by) == 4714  # one pseudonym per contributor
    got = Counter(tuple(sorted(v)) for v in by.values())
    want = Counter(tuple(sorted(v)) for v in users.values())
    assert got == want
    assert res.min_anonymity_set is not None and res.min_anonymity_set >= 24 // 2
    assert set(by).isdisjoint({str(u) for u in users})  # pseudonyms are not user ids
