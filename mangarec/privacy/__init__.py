"""Private rating collection: secure aggregation used as an anonymous channel.

Public entry points:

* :func:`mangarec.privacy.simulate.simulate_collection` — whole-dataset in-process run;
* :class:`mangarec.privacy.secagg_client.SecAggClient` /
  :class:`mangarec.privacy.secagg_server.SecAggServer` — I/O-free state machines;
* :class:`mangarec.privacy.contributor.Contributor` / :class:`mangarec.privacy.collector.Collector`
  (the anonymous channel's two sides) and :func:`mangarec.privacy.driver.run_session`;
* ``python -m mangarec.privacy {simulate,serve,join}``.

See docs/privacy.md for the protocol and threat model.
"""

from .errors import ConsistencyError, DecryptionError, ParameterError, PrivacyError, ProtocolViolation, RoundAborted

__all__ = ["ConsistencyError", "DecryptionError", "ParameterError", "PrivacyError", "ProtocolViolation", "RoundAborted"]
