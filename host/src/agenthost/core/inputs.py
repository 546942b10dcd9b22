"""The check every task's inputs pass before an agent sees them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agenthost.errors import InvalidRequestError
from agenthost.literals import check_literal
from agenthost.literals.decode import plainly_of_type
from agenthost.literals.types import missing_and_undeclared
from agenthost.template import check_custom

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate


def check_inputs(template: TaskTemplate, inputs: LiteralMap | None) -> None:
    """``InvalidRequestError`` for a request the agent should never see: a NaN or infinite
    number in ``custom`` (naming the field), inputs missing from or not declared in the
    template's interface, or an input whose literal does not match its declared type (naming
    the input and both types). A template without an interface has its input names and types
    unchecked; offloaded literals are not fetched, so their types are not checked."""
    check_custom(template)
    declared = template.interface.inputs.variables
    given = inputs.literals if inputs is not None else {}
    if len(given) == len(declared):
        # Indexing the maps is cheaper than their ``items()``, and the plain case needs no more.
        for name in given:
            if name not in declared:
                break
            literal = given[name]
            literal_type = declared[name].type
            if (
                not plainly_of_type(literal, literal_type)
                and literal.WhichOneof("value") != "offloaded_metadata"
            ):
                check_literal(literal, literal_type, name=f"input {name!r}")
        else:
            return
    if not template.HasField("interface"):
        return
    missing, undeclared = missing_and_undeclared(given, declared)
    if undeclared:
        raise InvalidRequestError(
            f"input(s) {', '.join(map(repr, sorted(undeclared)))} are not declared in the "
            f"interface of task type {template.type!r}"
        )
    raise InvalidRequestError(
        f"missing input(s) {', '.join(map(repr, sorted(missing)))} declared in the "
        f"interface of task type {template.type!r}"
    )
