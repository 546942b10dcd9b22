"""Protocol adapters: each serves the agents of one core over one wire protocol.

The core (``agenthost.core`` and the SDK modules it uses) knows agents, ``Resource``,
``ResourceMeta``, literals and the call contract, and nothing of gRPC services. Each adapter
package converts a protocol's request bytes into core calls and the core's results into that
protocol's response bytes:

- ``agenthost.protocols.v1``: flyteidl ``AsyncAgentService``, ``SyncAgentService`` and
  ``AgentMetadataService`` (Flyte 1 propeller);
- ``agenthost.protocols.v2``: flyteidl2 ``AsyncConnectorService`` and
  ``ConnectorMetadataService`` (the Flyte 2 executor);
- ``agenthost.protocols.common``: what every adapter shares (call logging, metrics, parsing,
  error mapping, and the RPCs whose requests are the same bytes on both protocols).

Nothing is imported here on purpose: the server imports only the adapters it serves.
"""
