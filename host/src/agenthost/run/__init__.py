"""Driving one task through an agent without Flyte (``agenthost run``, ``agenthost.testing``).

- ``lifecycle``: ``run_task`` (create, poll, delete on cancel; or do), ``Status``,
  ``RunResult``, ``Backoff`` and the run errors;
- ``backends``: the ``Backend`` protocol and ``LocalBackend`` (a ``Dispatcher`` in process);
- ``remote``: the gRPC backends (flyteidl v1 agent services, flyteidl2 connector services);
- ``channels``: the one builder of client channels (plaintext, TLS, mutual TLS);
- ``taskfiles``: template files, ``NAME=VALUE`` inputs and JSON arguments;
- ``templates``: ``make_template``/``make_inputs`` from Python values.

This ``__init__`` imports nothing, so a command that needs only ``channels`` stays light.
"""
