"""MyAnimeList anime CSV + ratings: the real anime-recdb files, the fixtures, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from _loader_helpers import write

from mangarec.loaders import load_catalog

HEADER = "anime_id,name,genre,type,episodes,rating,members\n"
ROWS = (
    '1,Alpha &amp; Omega,"Action, School, Yaoi",TV,12,8.5,1000\n'
    '2,Beta,"Comedy, Shounen Ai",Movie,1,,50\n'
    '3,Gamma,"Hentai, Romance",OVA,2,6.1,10\n'
    "4,Delta,,TV,Unknown,7.0,5\n"
)


@pytest.fixture(scope="module")
def full(shared_data):
    return load_catalog([str(shared_data / "anime-recdb")])


@pytest.mark.slow
def test_full_directory_loads_anime_and_ratings(full, shared_data):
    # 12,294 anime; 1,141 Hentai (adult); 62 with no genre
    assert len(full) == 12_294 - 1_141 - 62
    assert full.skipped["adult"] == 1_141 and full.skipped["no tags"] == 62
    assert full.sources == (
        str(shared_data / "anime-recdb" / "anime.csv.gz"),
        str(shared_data / "anime-recdb" / "ratings.csv.gz"),
    )
    r = full.ratings
    assert r is not None and not r.implicit
    assert r.matrix.shape == (r.n_users, len(full)) and r.matrix.dtype == np.float32
    # every rating is kept except those on filtered (adult / untagged) anime
    dropped = full.skipped.get("ratings: filtered item", 0)
    assert dropped > 0 and "ratings: unknown item" not in full.skipped
    assert r.nnz + dropped == 419_943
    assert r.n_users <= 4_714 and len(set(r.user_ids)) == r.n_users
    assert r.matrix.data.min() >= 1 and r.matrix.data.max() <= 10
    assert np.all(np.diff(r.matrix.indptr) > 0)  # no empty user rows


@pytest.mark.slow
def test_full_items(full):
    fma = full["5114"]
    assert fma.title == "Fullmetal Alchemist: Brotherhood" and fma.kind == "anime" and fma.type == "TV"
    assert fma.tag_groups == {"genre": ("Action", "Adventure", "Drama", "Fantasy", "Magic", "Military", "Shounen")}
    assert fma.popularity == 793_665 and fma.score == 9.26
    assert fma.url == "https://myanimelist.net/anime/5114" and dict(fma.external) == {"mal": "5114"}
    assert full["9969"].title == "Gintama'"  # &#039; unescaped
    assert "School Life" in full["32281"].tag_list and "School" not in full.tag_vocabulary
    assert "Hentai" not in full.tag_vocabulary
    assert all(len(i.tags) == 1 and i.tags[0][0] == "genre" for i in full)
    assert not any("&#" in i.title or "&amp;" in i.title for i in full)


@pytest.mark.slow
def test_full_rating_values_match_the_file(full):
    # user 1's first ratings in ratings.csv.gz: anime 61 → 8, 357 → 5, 1222 → 9
    r = full.ratings
    row = r.matrix[r.user_ids.index("1")]
    values = dict(zip((full.ids[j] for j in row.indices), row.data))
    assert values["61"] == 8 and values["357"] == 5 and values["1222"] == 9


@pytest.mark.slow
def test_history_is_implicit(shared_data):
    cat = load_catalog([f"mal-history:{shared_data / 'anime-recdb'}"])
    r = cat.ratings
    assert r.implicit and set(np.unique(r.matrix.data)) == {1.0}
    assert r.nnz + cat.skipped.get("ratings: filtered item", 0) == 520_609
    assert cat.sources[-1].endswith("history.csv.gz")


def test_fixture_files(shared_data):
    d = shared_data / "anime-recdb"
    cat = load_catalog([str(d / "fixture_anime.csv"), str(d / "fixture_ratings.csv")], include_adult=True)
    assert len(cat) == 400
    assert cat.ratings.matrix.shape == (300, 400) and cat.ratings.nnz == 22_564
    assert cat.skipped == {}
    # columns follow catalog order: the column sums equal each anime's rating count
    counts = np.diff(cat.ratings.matrix.tocsc().indptr)
    assert counts.sum() == 22_564 and counts.min() >= 1


def test_ratings_spec_prefix_and_limit(shared_data):
    d = shared_data / "anime-recdb"
    cat = load_catalog([f"mal:{d / 'fixture_anime.csv'}", f"ratings:{d / 'fixture_ratings.csv'}"], limit=50)
    assert len(cat) == 50 and cat.ratings.matrix.shape[1] == 50
    assert cat.skipped["ratings: unknown or unread item (limit)"] + cat.ratings.nnz == 22_564


def test_small_file_mapping(tmp_path):
    p = write(tmp_path / "anime.csv", HEADER + ROWS, "gzip")
    cat = load_catalog([str(p)], include_adult=True, min_tags=0)
    a, b, c, d = cat.items
    assert a.title == "Alpha & Omega" and a.tag_list == ("Action", "Boys' Love", "School Life")
    assert b.score is None and b.tag_list == ("Boys' Love", "Comedy") and b.type == "Movie"
    assert c.adult and not a.adult
    assert d.tags == ()
    sfw = load_catalog([str(p)])
    assert sfw.ids == ("1", "2") and sfw.skipped == {"adult": 1, "no tags": 1}


def test_ratings_of_unknown_and_filtered_items(tmp_path):
    anime = write(tmp_path / "anime.csv", HEADER + ROWS)
    ratings = write(tmp_path / "r.csv", "user_id,anime_id,rating\n7,1,9\n7,3,5\n8,99,4\n8,2,6\n9,3,2\n")
    cat = load_catalog([str(anime), str(ratings)])
    assert cat.skipped["ratings: filtered item"] == 2 and cat.skipped["ratings: unknown item"] == 1
    r = cat.ratings
    assert r.user_ids == ("7", "8")  # user 9 only rated a filtered item
    assert r.matrix.toarray().tolist() == [[9.0, 0.0], [0.0, 6.0]]


@pytest.mark.parametrize(
    "header", ["pseudonym,item_id,rating", "user_id,item_id,rating", "userId,movieId,rating,timestamp"]
)
def test_ratings_header_variants(tmp_path, header):
    anime = write(tmp_path / "anime.csv", HEADER + ROWS)
    extra = ",123" if header.endswith("timestamp") else ""
    ratings = write(tmp_path / "r.csv", f"{header}\nab12,1,4.5{extra}\nab12,2,3{extra}\n")
    cat = load_catalog([str(anime), str(ratings)])
    assert cat.ratings.user_ids == ("ab12",) and cat.ratings.matrix.toarray().tolist() == [[4.5, 3.0]]


def test_implicit_ratings_file(tmp_path):
    anime = write(tmp_path / "anime.csv", HEADER + ROWS)
    hist = write(tmp_path / "h.csv", "user_id,anime_id\n1,1\n1,2\n2,2\n")
    cat = load_catalog([str(anime), str(hist)])
    assert cat.ratings.implicit and cat.ratings.matrix.toarray().tolist() == [[1, 1], [0, 1]]


def test_missing_columns(tmp_path, expect_error):
    p = write(tmp_path / "anime.csv", "anime_id,name,genre,type\n1,A,Action,TV\n")
    expect_error(lambda: load_catalog([f"mal:{p}"]), file=p, line=1, match="missing columns: episodes, rating, members")


@pytest.mark.parametrize(
    "row,match",
    [
        ('5,,"Action",TV,1,7.0,10', "empty title"),
        ('5,"   ","Action",TV,1,7.0,10', "empty title"),
        ('5,X,"Action",TV,1,seven,10', "column 'rating' must be a number"),
        ('5,X,"Action",TV,1,7.0,many', "column 'members' must be an integer"),
        ('5,X,"Action",TV,1,7.0', "expected 7 fields, got 6"),
        ('bad id!,X,"Action",TV,1,7.0,10', "invalid id"),
        ('1,X,"Action",TV,1,7.0,10', "duplicate item id '1'"),
    ],
)
def test_bad_rows(tmp_path, expect_error, row, match):
    p = write(tmp_path / "anime.csv", HEADER + ROWS + row + "\n")
    expect_error(lambda: load_catalog([str(p)]), file=p, line=6, match=match)


@pytest.mark.parametrize(
    "body,line,match",
    [
        ("u1,1,eight\n", 2, "bad rating value 'eight'"),
        ("u1,1,\n", 2, "bad rating value ''"),
        ("u1,1,-1\n", 2, "bad rating value '-1'"),
        ("u1,1,nan\n", 2, "bad rating value 'nan'"),
        ("u1,1,5\nu1,1,6\n", 3, "duplicate rating"),
        ("u1,1\n", 2, "expected 3 fields"),
    ],
)
def test_bad_ratings(tmp_path, expect_error, body, line, match):
    anime = write(tmp_path / "anime.csv", HEADER + ROWS)
    r = write(tmp_path / "r.csv", "user_id,anime_id,rating\n" + body)
    expect_error(lambda: load_catalog([str(anime), str(r)]), file=r, line=line, match=match)


def test_ratings_without_items_and_two_ratings_files(tmp_path, expect_error):
    anime = write(tmp_path / "anime.csv", HEADER + ROWS)
    r = write(tmp_path / "r.csv", "user_id,anime_id,rating\n1,1,5\n")
    expect_error(lambda: load_catalog([str(r)]), file=r, match="needs a catalog")
    expect_error(lambda: load_catalog([str(anime), str(r), f"ratings:{r}"]), match="more than one ratings file")


def test_ratings_file_with_wrong_columns(tmp_path, expect_error):
    anime = write(tmp_path / "anime.csv", HEADER + ROWS)
    r = write(tmp_path / "r.csv", "who,what,rating\n1,1,5\n")
    expect_error(lambda: load_catalog([str(anime), f"ratings:{r}"]), file=r, line=1, match="missing columns")
