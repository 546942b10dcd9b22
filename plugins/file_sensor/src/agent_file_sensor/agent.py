"""``FileSensor``: succeeds once a path exists, locally or in any fsspec filesystem."""

from __future__ import annotations

from typing import Any, ClassVar

from agent_file_sensor.clients import FilesystemCache, check_backend_installed
from agent_file_sensor.failures import is_transient_error
from agent_file_sensor.paths import PathPolicy, shown_path
from agenthost import BaseSensor

TASK_TYPE = "file_sensor"
"""The task type this sensor serves directly."""

FLYTEKIT_ALIAS = ("flytekit.sensor.file_sensor", "FileSensor")
"""flytekit's ``(sensor_module, sensor_name)`` for its ``FileSensor`` (task type ``sensor``)."""


class FileSensor(BaseSensor):
    """Waits for ``path`` to exist: a local path, ``file://``, ``s3://``, ``gs://``, or another
    fsspec protocol the operator allows.

    Serves task type ``file_sensor`` and, through the host's sensor router, flytekit's
    ``FileSensor`` tasks (task type ``sensor``). A scheme the host does not allow, or a local
    path outside the allowed directories, is INVALID_ARGUMENT at CreateTask, and at GetTask
    before any I/O; a missing backend package is FAILED_PRECONDITION. Network trouble,
    throttling and storage that does not answer within the poke timeout keep the task RUNNING;
    permission denied fails it.

    ``policy`` fixes the allowed schemes and local directories; by default they are read from
    the environment on every call (``PathPolicy.from_env``).
    """

    aliases: ClassVar[tuple[tuple[str, str], ...]] = (FLYTEKIT_ALIAS,)

    def __init__(
        self, filesystems: FilesystemCache | None = None, *, policy: PathPolicy | None = None
    ) -> None:
        super().__init__(TASK_TYPE)
        self.filesystems = filesystems or FilesystemCache()
        self.policy = policy

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        """The base checks (``path`` present, a string, nothing else), then the path policy
        (``UnsupportedPathError``, i.e. INVALID_ARGUMENT) and the backend package
        (``BackendNotInstalledError``, i.e. FAILED_PRECONDITION)."""
        super().check_inputs(inputs)
        check_backend_installed(self._policy().check(inputs["path"]).protocol)

    async def poke(self, path: str) -> bool:  # type: ignore[override]
        """True once ``path`` exists."""
        return await self.filesystems.exists(self._policy().check(path))

    def _policy(self) -> PathPolicy:
        return self.policy if self.policy is not None else PathPolicy.from_env()

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
