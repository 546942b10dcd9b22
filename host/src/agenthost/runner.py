"""The old import path of the runner, re-exported: the names live in the ``agenthost.run``
package (``lifecycle``, ``backends``, ``remote``, ``channels``, ``taskfiles``, ``templates``)."""

from agenthost.run.backends import DEFAULT_OUTPUT_PREFIX as DEFAULT_OUTPUT_PREFIX
from agenthost.run.backends import Backend as Backend
from agenthost.run.backends import LocalBackend as LocalBackend
from agenthost.run.lifecycle import SUCCESS_PHASES as SUCCESS_PHASES
from agenthost.run.lifecycle import Backoff as Backoff
from agenthost.run.lifecycle import RemoteCallError as RemoteCallError
from agenthost.run.lifecycle import RunInterrupted as RunInterrupted
from agenthost.run.lifecycle import RunResult as RunResult
from agenthost.run.lifecycle import RunTimeout as RunTimeout
from agenthost.run.lifecycle import Status as Status
from agenthost.run.lifecycle import run_blocking as run_blocking
from agenthost.run.lifecycle import run_task as run_task
from agenthost.run.remote import RemoteBackend as RemoteBackend
from agenthost.run.remote import RemoteConnectorBackend as RemoteConnectorBackend
from agenthost.run.taskfiles import TemplateError as TemplateError
from agenthost.run.taskfiles import load_template as load_template
from agenthost.run.taskfiles import looks_like_literal_map as looks_like_literal_map
from agenthost.run.taskfiles import parse_input_assignments as parse_input_assignments
from agenthost.run.templates import make_inputs as make_inputs
from agenthost.run.templates import make_template as make_template
