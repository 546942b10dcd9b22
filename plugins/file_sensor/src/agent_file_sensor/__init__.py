"""agent-file-sensor: an agenthost sensor that waits for a file to exist (local, ``file://``,
``s3://``, ``gs://``, or another fsspec protocol the operator allows). Importing it imports no
fsspec backend. ``agent_file_sensor.plugin`` is the entry point."""

from agent_file_sensor.agent import FLYTEKIT_ALIAS, TASK_TYPE, FileSensor
from agent_file_sensor.errors import BackendNotInstalledError, UnsupportedPathError
from agent_file_sensor.paths import PathPolicy
from agent_file_sensor.version import __version__

__all__ = [
    "FLYTEKIT_ALIAS",
    "TASK_TYPE",
    "BackendNotInstalledError",
    "FileSensor",
    "PathPolicy",
    "UnsupportedPathError",
    "__version__",
]
