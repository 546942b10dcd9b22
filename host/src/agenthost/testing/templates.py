"""Task templates and their inputs built from Python values, as a test writes them: the one
``make_template``/``make_inputs`` pair, which ``agenthost run`` uses too (``agenthost.run``)."""

from __future__ import annotations

from agenthost.run.templates import make_inputs as make_inputs
from agenthost.run.templates import make_template as make_template

__all__ = ["make_inputs", "make_template"]
