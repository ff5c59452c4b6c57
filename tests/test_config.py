"""The configuration schema: defaults, the shipped site.toml, and one-line errors."""

from __future__ import annotations

import pytest

from mangarec.config import Config, ConfigError, describe, load_config, with_seed
from mangarec.paths import DEFAULT_CONFIG


def _key_paths(tree: dict, prefix: str = "") -> dict[str, object]:
    """Every ``section.key`` of a parsed TOML tree with its value (tables walked, not compared)."""
    out: dict[str, object] = {}
    for k, v in tree.items():
        where = f"{prefix}.{k}" if prefix else k
        out.update(_key_paths(v, where) if isinstance(v, dict) else {where: v})
    return out


def _same_as_schema(text: str) -> bool:
    import tomllib

    from mangarec.config import default_toml

    return _key_paths(tomllib.loads(text)) == _key_paths(tomllib.loads(default_toml()))


def test_shipped_site_toml_is_the_defaults():
    """Same parsed values, and the same sections and keys written out: a key or section missing
    from the file would parse to the same Config (defaults fill it) but must fail here."""
    assert load_config(DEFAULT_CONFIG) == Config()
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    assert _same_as_schema(text)
    # the check checked both ways: without its [evaluation] section the file still loads to the
    # defaults, and the comparison of its content refuses it
    head, _, rest = text.partition("\n[evaluation]\n")
    tail = rest[rest.index("\n[") :]
    cut = head + tail
    assert "[evaluation]" not in cut and load_config_text(cut) == Config()
    assert not _same_as_schema(cut)


def load_config_text(text: str) -> Config:
    import tomllib

    from mangarec import schema

    return schema.build(Config, tomllib.loads(text), "", "site.toml")


def test_check_reports_every_problem(tmp_path):
    """``config --check`` (check_config): one ConfigError per problem, in file order, not only
    the first (issue 21); a valid file has none; an unreadable one is one problem."""
    from mangarec.config import check_config

    p = tmp_path / "site.toml"
    p.write_text('seed = "x"\ncolour = 1\n[site]\nfeed_size = 0\n[models.lsi]\ndim = -1\nbogus = 2\n')
    problems = check_config(p)
    assert [str(e).split(": ", 1)[1].split(" ")[0] for e in problems] == [
        "seed",
        "unknown",
        "site.feed_size",
        "models.lsi.dim",
        "unknown",
    ]
    assert all(str(p) in str(e) and "\n" not in str(e) for e in problems)
    with pytest.raises(ConfigError, match="seed"):  # load_config still stops at the first
        load_config(p)
    p.write_text("seed = 3\n")
    assert check_config(p) == []
    assert len(check_config(tmp_path / "missing.toml")) == 1


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
        ("[neighbours]\nk = -3\n", "neighbours.k = -3: must be between 1 and 200"),
        ("[catalog]\nadult_tags = [1, 2]\n", "catalog.adult_tags[0] = 1: must be a string"),
        ("[site]\nmodels = []\n", "site.models = []: must name at least one model"),
        ('[site]\nmodels = "lsi"\n', "site.models = 'lsi': must be a list of strings"),
        (
            "[evaluation]\npermutations = 1000000000\n",
            "evaluation.permutations = 1000000000: must be between 1 and 100_000",
        ),
        ("[models.word2vec]\ndim = 1000000\n", "models.word2vec.dim = 1000000: must be between 0 and 1024"),
        ("[models.lsi]\ndim = 0\n", "models.lsi.dim = 0: must be between 1 and 1024"),
        ("[models.als]\nregularization = nan\n", "models.als.regularization = nan: must be a finite number"),
        ("[models.bert]\ndim = 3\n", "unknown key 'models.bert'"),
        ('[neighbours]\nk = "20"\n', "neighbours.k = '20': must be an integer"),
        ("[neighbours]\nk = true\n", "neighbours.k = True: must be an integer"),
        ('[site]\nmodels = ["lsi", "bert"]\n', "unknown model 'bert'"),
        ('[site]\nsite_url = "example.org"\n', "site.site_url = 'example.org'"),
        ('[site]\ntitel = "x"\n', "unknown key 'site.titel'"),
        ("colour = 1\n", "unknown key 'colour'"),
        ('[umap]\ninit = "tsne"\n', "umap.init = 'tsne': must be one of pca, spectral, random"),
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


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "site.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is a named pipe"):
        load_config(fifo)  # opening a FIFO for reading would block forever


def test_unreadable_and_undecodable(tmp_path):
    import os

    p = tmp_path / "c.toml"
    p.write_bytes(b"seed = 1\n\xff\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(p)
    if os.geteuid() != 0:  # root reads mode-000 files
        p.write_text("seed = 1\n")
        p.chmod(0)
        with pytest.raises(ConfigError, match="permission denied"):
            load_config(p)


def test_shipped_site_toml_is_generated_from_the_schema():
    from mangarec.config import default_toml

    assert DEFAULT_CONFIG.read_text(encoding="utf-8") == default_toml(), (
        "site_src/site.toml drifted from the schema: regenerate it with "
        "'python -m mangarec config --defaults > site_src/site.toml'"
    )


def test_every_size_key_has_an_upper_bound():
    """Each int key's check refuses a huge value (no runaway allocation from a config)."""
    import dataclasses
    import typing

    from mangarec import schema

    def walk(cls, prefix=""):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            sub = f.metadata.get("section") or (hints[f.name] if dataclasses.is_dataclass(hints[f.name]) else None)
            if sub is not None:
                yield from walk(sub, f"{prefix}{f.name}.")
            elif hints[f.name] is int:
                yield f"{prefix}{f.name}", f.metadata.get("check")

    keys = dict(walk(Config))
    assert len(keys) > 15
    for name, check in keys.items():
        assert check is not None and check(10**19), f"{name} accepts 10**19"
    assert schema.bounded(1, 5)(3) is None


def test_with_seed():
    assert with_seed(Config(), 5).seed == 5
    assert with_seed(Config(), None) == Config()


def test_every_key_is_documented():
    lines = describe()
    keys = [line for line in lines if line.startswith("  ")]
    assert len(keys) > 30
    assert all("\n      " in k and k.split("\n      ")[1].strip() for k in keys)


def test_deeply_nested_toml_is_one_line(tmp_path):
    p = tmp_path / "deep.toml"
    p.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply|not valid TOML"):
        load_config(p)
