"""mangarec: a static site generator for privacy-respecting anime and manga recommendations.

Data flow: ``catalog`` (load + validate) -> ``models/*`` (``fit(catalog, params, seed) ->
Embedding``) -> ``neighbours`` -> ``evaluate`` -> ``site/*`` -> published JSON.
"""

__version__ = "0.1.0"
