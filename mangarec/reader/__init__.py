"""Readers of the published embeddings, one module per form (the full file's fold-in block,
the compact form, the per-title form), the bounded source they read from and the model they
build; :mod:`mangarec.client` is the public entry point."""
