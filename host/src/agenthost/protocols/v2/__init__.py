"""The Flyte 2 connector protocol: ``flyteidl2.connector.AsyncConnectorService`` and
``ConnectorMetadataService`` (``services.py``), its request shapes built on flyteidl v1's
classes (``wire.py``) and the conversions at its edge (``convert.py``)."""
