"""``validate(instance, schema)``: :func:`jsonschema.validate` with one validator per schema.

``jsonschema.validate`` checks the schema against its meta-schema and builds a validator on every
call (~40 ms each for the published file's schema); the tests validate hundreds of documents
against a few schemas, so each schema is checked once, the first time it is seen, and its
validator kept. The answers are jsonschema's: the same errors for the same instances.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema.protocols import Validator


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(instance: Any, schema: dict) -> None:
    """Raise :class:`jsonschema.ValidationError` (the best match, as ``jsonschema.validate``
    does) if ``instance`` does not hold to ``schema``."""
    error = jsonschema.exceptions.best_match(_validator(json.dumps(schema, sort_keys=True)).iter_errors(instance))
    if error is not None:
        raise error
