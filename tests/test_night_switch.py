"""The warm-night switch (:mod:`mangarec.night`) where a maintainer meets it: the configuration,
``mangarec build --warm-night`` / ``MANGAREC_WARM_NIGHT``, the workflow ``mangarec ci init``
writes; and the per-title digests that tell a night which titles changed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mangarec.catalog import Catalog
from mangarec.ci import workflow
from mangarec.cli import main
from mangarec.config import Config, load_config
from mangarec.night import changed_titles, item_digests


def test_warm_nights_are_off_by_default():
    night = Config().night
    assert night.warm is False and night.max_changed == 0.05 and night.cold_every_days == 7


def test_night_keys_are_checked(tmp_path):
    p = tmp_path / "site.toml"
    p.write_text("[night]\nwarm = true\nmax_changed = 0.02\ncold_every_days = 3\n")
    night = load_config(p).night
    assert night.warm and night.max_changed == 0.02 and night.cold_every_days == 3
    p.write_text("[night]\nmax_changed = 2\n")
    assert main(["config", "--check", str(p)]) == 2


def test_a_bad_switch_value_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MANGAREC_WARM_NIGHT", "yes please")
    assert main(["build", "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MANGAREC_WARM_NIGHT" in err[0]


def test_the_workflow_carries_the_switch():
    assert "MANGAREC_WARM_NIGHT: false" in workflow(package="mangarec==1")
    assert "MANGAREC_WARM_NIGHT: true" in workflow(package="mangarec==1", warm_night=True)


def test_digests_tell_changed_new_and_removed_titles(two_clusters: Catalog):
    before = item_digests(two_clusters, {"tags"})
    items = list(two_clusters.items)
    items[3] = replace(items[3], description="a new description")  # not a tag: unchanged for tags
    items[5] = replace(items[5], tags=items[0].tags)
    items[7] = replace(items[7], id="brand-new")
    night = Catalog(items=tuple(items))
    changed, removed = changed_titles(before, item_digests(night, {"tags"}), night.ids)
    assert changed.tolist() == [5, 7] and removed == 1
    changed, _ = changed_titles(before, item_digests(two_clusters, {"tags"}), two_clusters.ids)
    assert changed.tolist() == [] and isinstance(changed, np.ndarray)
