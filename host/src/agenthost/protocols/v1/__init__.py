"""The flyteidl v1 agent protocol: ``flyteidl.service.AsyncAgentService``,
``SyncAgentService`` and ``AgentMetadataService`` (``services.py``), with the conversions of
the core's agents to v1 messages (``convert.py``)."""
