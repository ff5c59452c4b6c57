import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec.site.search_index import MAX_KEY, build_index, key_file, normalise, query, resolve


def test_normalise_accents_case_punctuation():
    assert normalise("Shingeki no Kyojin: Ōtoshi!") == "shingeki no kyojin otoshi"
    assert normalise("POKÉMON") == "pokemon"
    assert normalise("Straße") == "strasse"
    assert normalise("ＦＵＬＬ　ＷＩＤＴＨ") == "full width"
    assert normalise("進撃の巨人") == "進撃の巨人"
    assert normalise("--") == ""


def test_key_file_is_safe():
    assert key_file("ab") == "k-6162.json"
    assert key_file("進") == "k-e980b2.json"


ENTRIES = [
    ("1", "Naruto", ["ナルト", "Naruto Shippuden"]),
    ("2", "One Piece", ["Wan Pīsu"]),
    ("3", "The Promised Neverland", ["Yakusoku no Neverland"]),
    ("4", "Pokémon Adventures", []),
    ("5", "Narutaru", []),
]


def test_query_title_alt_accent_and_order():
    idx = build_index(ENTRIES, shard_size=2000)
    assert [r[0] for r in query(idx, "naru")] == ["1", "5"]  # popularity order
    assert query(idx, "shippu")[0] == ("1", "Naruto", "Naruto Shippuden")
    assert query(idx, "pokemon")[0][0] == "4"  # accent-insensitive
    assert query(idx, "PISU")[0][0] == "2"  # alt title, accent
    assert query(idx, "the prom")[0][0] == "3"  # stop word + prefix
    assert query(idx, "neverland")[0][0] == "3"
    assert query(idx, "ナル")[0][0] == "1"
    assert query(idx, "zzz") == []
    assert query(idx, "") == []


def test_whole_name_prefix_ranks_first():
    idx = build_index([("a", "Love Hina", []), ("b", "Hina Love", [])], 2000)
    assert [r[0] for r in query(idx, "hina")] == ["b", "a"]


def test_shards_split_when_large():
    entries = [(str(k), f"Alpha {k:05d} {'bcdefgh'[k % 7]}", []) for k in range(300)]
    idx = build_index(entries, shard_size=50)
    files = idx.files()
    meta = files["index.json"]
    assert meta["keys"]["a"] == 0 or meta["keys"]["a"] == 2
    leafs = [k for k, v in meta["keys"].items() if v == 1]
    assert all(len(idx.shards[k]["i"]) <= 50 or len(k) >= MAX_KEY for k in leafs)
    # every title still found through the split shards
    for k in (0, 123, 299):
        assert query(idx, f"{k:05d}")[0][0] == str(k)
    assert query(idx, "alpha 00042")[0][0] == "42"
    key, complete = resolve(meta["keys"], "alp")
    assert not complete


def test_shard_json_is_small_and_sorted():
    idx = build_index(ENTRIES, 2000)
    for content in idx.files().values():
        text = json.dumps(content, sort_keys=True)
        assert len(text) < 10_000


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="abcdeé ÉxyzΩ", min_size=1, max_size=20), min_size=1, max_size=40),
    st.integers(min_value=2, max_value=8),
)
def test_every_title_finds_itself(titles, shard_size):
    entries = [(str(k), t, []) for k, t in enumerate(titles)]
    idx = build_index(entries, shard_size)
    for k, t in enumerate(titles):
        words = normalise(t).split()
        if not words:
            continue
        # the full title always finds the item, whatever the sharding
        assert str(k) in [r[0] for r in query(idx, t, limit=len(titles))]
