"""The gRPC server of agenthost: flyteidl agent services over ``grpc.aio``, health, reflection,
Prometheus metrics, graceful shutdown, TLS and worker processes.

Nothing is imported here on purpose; use ``agenthost.server.app`` (``ServerConfig``, ``run``).
"""
