"""The gRPC server of agenthost: flyteidl agent services over ``grpc.aio``, health, reflection,
Prometheus metrics, graceful shutdown, TLS and worker processes.

Read it top to bottom: ``config`` (``ServerConfig``), ``app`` (``run``, ``serve``, ``Server``),
``process`` (the process around a server), ``supervisor`` and ``worker`` (``--workers``).
Nothing is imported here on purpose; use ``agenthost.server.app`` (``ServerConfig``, ``run``).
"""
