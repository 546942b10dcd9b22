"""The literal codec: flyteidl ``Literal``/``LiteralMap`` <-> plain Python values.

Produces the same literals as flytekit's TypeEngine (1.16) without depending on flytekit.
``to_literal``/``to_literal_map`` encode, ``from_literal``/``from_literal_map`` decode
(``literal_map_to_python`` is the former name of ``from_literal_map``),
``literal_type_for``/``variable_map`` declare types from Python annotations; ``check_literal``
checks a literal against a type without keeping the value.
"""

from __future__ import annotations

from agenthost.literals.decode import (
    check_literal,
    from_literal,
    from_literal_map,
    literal_map_to_python,
)
from agenthost.literals.encode import to_literal, to_literal_map
from agenthost.literals.errors import LiteralConversionError
from agenthost.literals.types import (
    blob_type,
    collection_type,
    describe_type,
    enum_type,
    literal_type_for,
    map_type,
    simple_type,
    struct_type,
    structured_dataset_type,
    union_type,
    variable_map,
    variable_types,
)
from agenthost.literals.values import Blob, BlobSpec, Directory, StructuredDataset

__all__ = [
    "Blob",
    "BlobSpec",
    "Directory",
    "LiteralConversionError",
    "StructuredDataset",
    "blob_type",
    "check_literal",
    "collection_type",
    "describe_type",
    "enum_type",
    "from_literal",
    "from_literal_map",
    "literal_map_to_python",
    "literal_type_for",
    "map_type",
    "simple_type",
    "struct_type",
    "structured_dataset_type",
    "to_literal",
    "to_literal_map",
    "union_type",
    "variable_map",
    "variable_types",
]
