from mangarec.seeds import derive_seed, rng


def test_derive_seed_is_stable_and_separates_labels():
    a = derive_seed(42, "model", "lsi")
    assert a == derive_seed(42, "model", "lsi")
    assert 0 <= a < 2**32
    others = {
        derive_seed(42, "model", "w2v"),
        derive_seed(43, "model", "lsi"),
        derive_seed(42, "modellsi"),
        derive_seed(42, "model", "lsi", 0),
    }
    assert a not in others and len(others) == 4


def test_rng_streams_are_reproducible():
    assert (rng(1, "x").random(5) == rng(1, "x").random(5)).all()
    assert not (rng(1, "x").random(5) == rng(1, "y").random(5)).all()
