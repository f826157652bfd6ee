"""The single exception type of the model, and the OpenWhisk messages it carries.

Message constants use OpenWhisk's own wording (its `Messages` object) so that clients which
match on error text keep working.
"""

from __future__ import annotations

ENTITY_NAME_ILLEGAL = "The name of the entity contains illegal characters."
NAMESPACE_ILLEGAL = "The namespace contains illegal characters."
MALFORMED_FQN = (
    "The fully qualified name of the entity must contain at least the namespace "
    "and the name of the entity."
)
ACTIVATION_ID_ILLEGAL = "The activation id is not valid."
SEQUENCE_NO_COMPONENT = "No component specified for the sequence."
SEQUENCE_TOO_LONG = "Too many actions in the sequence."


class ModelError(ValueError):
    """An input does not conform to the model; `message` is fit for a 400 `error` body."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
