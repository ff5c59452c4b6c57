"""mangarec: a static site generator for privacy-respecting anime and manga recommendations.

Data flow: ``catalog`` (load + validate) -> ``models/*`` (``fit(catalog, params, seed, deps) ->
Embedding``, ``deps`` the embeddings of the models it depends on) -> ``neighbours`` ->
``evaluate`` -> ``site/*`` -> published JSON.
"""

__version__ = "0.1.0"
