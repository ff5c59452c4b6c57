"""The configuration schema: defaults, the shipped site.toml, and one-line errors."""
from __future__ import annotations

import pytest

from mangarec.config import Config, ConfigError, describe, load_config, with_seed
from mangarec.paths import DEFAULT_CONFIG


def test_shipped_site_toml_is_the_defaults():
    assert load_config(DEFAULT_CONFIG) == Config()


def test_none_gives_defaults():
    assert load_config(None) == Config()


def test_values_are_read(tmp_path):
    p = tmp_path / "site.toml"
    p.write_text('seed = 7\n[site]\ntitle = "X"\nmodels = ["lsi"]\n[models.lsi]\ndim = 8\n[neighbours]\nk = 5\n')
    c = load_config(p)
    assert (c.seed, c.site.title, c.site.models, c.models.lsi.dim, c.neighbours.k) == (7, "X", ["lsi"], 8, 5)
    assert c.models.word2vec == Config().models.word2vec


def test_int_is_accepted_for_float(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[models.als]\nregularization = 1\n")
    assert load_config(p).models.als.regularization == 1.0


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[neighbours]\nk = -3\n", "neighbours.k = -3: must be > 0"),
        ("[neighbours]\nk = \"20\"\n", "neighbours.k = '20': must be an integer"),
        ("[neighbours]\nk = true\n", "neighbours.k = True: must be an integer"),
        ("[site]\nmodels = [\"lsi\", \"bert\"]\n", "unknown model 'bert'"),
        ("[site]\nsite_url = \"example.org\"\n", "site.site_url = 'example.org'"),
        ("[site]\ntitel = \"x\"\n", "unknown key 'site.titel'"),
        ("colour = 1\n", "unknown key 'colour'"),
        ("[umap]\ninit = \"tsne\"\n", "umap.init = 'tsne': must be one of pca, spectral, random"),
        ("[evaluation]\nholdout = 1.5\n", "evaluation.holdout = 1.5"),
        ("site = 3\n", "[site] must be a table"),
        ("[site\n", "not valid TOML"),
    ],
)
def test_bad_values_name_file_key_and_value(tmp_path, text, fragment):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert fragment in msg and str(p) in msg and "\n" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_with_seed():
    assert with_seed(Config(), 5).seed == 5
    assert with_seed(Config(), None) == Config()


def test_every_key_is_documented():
    lines = describe()
    keys = [l for l in lines if l.startswith("  ")]
    assert len(keys) > 30
    assert all("\n      " in k and k.split("\n      ")[1].strip() for k in keys)
