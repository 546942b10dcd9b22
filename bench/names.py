"""The names the driver and the report share: servers that are compared with, and the load
cells (RPCs and concurrencies). No imports, so ``report.py`` runs in any Python."""

RPCS = ("GetTask", "CreateTask", "ExecuteTaskSync", "ListAgents")
RPCS_V2 = ("GetTask v2", "CreateTask v2")
"""The v2 cells (``loadgen.RPCS_V2``): flyteidl2 calls as the Flyte 2 executor makes them."""
CONCURRENCY = (1, 16, 64)
FLYTEKIT = "flytekit"
FLYTEKIT_PLUGINS = "flytekit+plugins"
CEILING = "bare"
CEILING_V2 = "bare v2"
CEILING_BOTH = "bare v1+v2"
C0 = "c0"
C0_PLUGINS = "c0+plugins"
PROTO_OUTPUTS = "agenthost proto outputs"
ISSUE_11_PLUGINS = "agenthost+3 plugins v1"
"""Issue 11's configuration: its three first-party plugins (BigQuery, OpenAI, file sensor),
Flyte 1 only; its cold-start and RSS targets are read on this server (cold start only)."""
CEILING_STREAM_UNARY = "bare stream-unary"
CEILING_PENDING = "bare max-pending"
CEILING_UVLOOP = "bare uvloop"
CEILING_V2_UVLOOP = "bare v2 uvloop"
"""The two ceilings on uvloop's event loop, as agenthost serves by default: the same-loop
ceilings, shown beside the ceilings on asyncio's own loop that the targets name."""
SAME_LOOP = {CEILING: CEILING_UVLOOP, CEILING_V2: CEILING_V2_UVLOOP}
"""Each ceiling's uvloop counterpart."""
