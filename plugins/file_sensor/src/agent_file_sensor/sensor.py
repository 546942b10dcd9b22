"""``FileSensor``: succeeds once a path exists, locally or in any fsspec filesystem."""

from __future__ import annotations

from typing import Any, ClassVar

from agent_file_sensor.errors import is_transient_error
from agent_file_sensor.filesystems import FilesystemCache
from agent_file_sensor.paths import parse_path, shown_path
from agenthost import BaseSensor

TASK_TYPE = "file_sensor"
"""The task type this sensor serves directly."""

FLYTEKIT_ALIAS = ("flytekit.sensor.file_sensor", "FileSensor")
"""flytekit's ``(sensor_module, sensor_name)`` for its ``FileSensor`` (task type ``sensor``)."""


class FileSensor(BaseSensor):
    """Waits for ``path`` to exist: a local path, ``file://``, ``s3://``, ``gs://`` or any
    protocol of an installed fsspec backend.

    Serves task type ``file_sensor`` and, through the host's sensor router, flytekit's
    ``FileSensor`` tasks (task type ``sensor``). An unsupported scheme is rejected when the
    task is created; network trouble and throttling keep the task RUNNING; a missing backend
    package or permission denied fails it.
    """

    aliases: ClassVar[tuple[tuple[str, str], ...]] = (FLYTEKIT_ALIAS,)

    def __init__(self, filesystems: FilesystemCache | None = None) -> None:
        super().__init__(TASK_TYPE)
        self.filesystems = filesystems or FilesystemCache()

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        """The base checks (``path`` present, a string, nothing else), then the path's
        scheme (``UnsupportedPathError``, i.e. INVALID_ARGUMENT, if unsupported)."""
        super().check_inputs(inputs)
        parse_path(inputs["path"])

    async def poke(self, path: str) -> bool:  # type: ignore[override]
        """True once ``path`` exists."""
        return await self.filesystems.exists(parse_path(path))

    async def aclose(self) -> None:
        """Close the current event loop's backend sessions (s3fs/gcsfs HTTP clients)."""
        await self.filesystems.aclose()

    def is_transient(self, error: BaseException) -> bool:
        """Network errors, timeouts, throttling and 5xx answers are transient; permission
        denied, a missing backend and anything else are permanent."""
        return is_transient_error(error)

    def describe_wait(self, inputs: dict[str, Any]) -> str:
        """The RUNNING message while the path does not exist yet."""
        return f"waiting for {shown_path(str(inputs.get('path')))} to exist"
