"""API errors and OpenWhisk's wording for them.

Every non-2xx answer carries `{"error": <message>, "code": <transaction id>}`; handlers raise
``ApiError`` and the middleware (``controller.middleware``) renders it.
"""

from __future__ import annotations

UNAUTHORIZED = "The supplied authentication is invalid."
NOT_FOUND = "The requested resource does not exist."
METHOD_NOT_ALLOWED = "The requested method is not allowed for this resource."
ALREADY_EXISTS = "resource already exists"
CONCURRENT_MODIFICATION = "Concurrent modification to resource detected."
WRONG_COLLECTION = "Resource by this name exists but is not in this collection."
MALFORMED_JSON = "The request content was malformed:\n{detail}"
NOT_JSON_OBJECT = "The request content was malformed:\nthe body must be a JSON object"
REQUEST_TOO_LARGE = "The request content was malformed:\nrequest entity too large"
INTERNAL = "Internal server error."
NO_INVOKERS = "No invokers available."
QUEUE_UNAVAILABLE = "No invokers available: the activation could not be queued. Try again later."
RESERVED_PARAMETERS = "Request defines parameters that are not allowed (e.g., reserved properties)."
SEQUENCE_NOT_YET = "Sequences cannot be invoked yet."


def sequence_component_missing(component: str) -> str:
    """A sequence names a component that does not exist (or is not an action)."""
    return f"Sequence component '{component}' does not exist."


def sequence_component_forbidden(component: str) -> str:
    """A sequence names a component the invoking identity may not read."""
    return f"Sequence component '{component}' is not accessible to the invoking subject."


def sequence_component_unusable(component: str, reason: str) -> str:
    """A sequence component cannot be invoked for another reason."""
    return f"Sequence component '{component}' cannot be invoked: {reason}"


def sequence_component_late(component: str) -> str:
    """A component's completion did not arrive within its time limit plus a margin."""
    return f"Sequence component '{component}' did not complete in time."


def sequence_component_unqueued(component: str) -> str:
    """A component's activation could not be sent to an invoker."""
    return f"Sequence component '{component}' could not be queued: no invokers available."


def sequence_component_not_object(component: str) -> str:
    """A component's result cannot be the next component's parameters."""
    return (
        f"Sequence component '{component}' did not return a JSON object "
        "to pass to the next component."
    )


def sequence_too_deep(levels: int) -> str:
    """Sequences nested deeper than the controller allows (or a cycle through an update)."""
    return f"Sequence nesting exceeds the limit of {levels} levels."


def sequence_component_interrupted(component: str) -> str:
    """The controller conducting the sequence stopped while a component ran (the component
    goes on and gets its own record)."""
    return f"Sequence component '{component}' was still running when the controller stopped."


SEQUENCE_INTERRUPTED = "The controller stopped before the sequence completed."


BAD_TIMEOUT = "The parameter 'timeout' must be a positive integer (milliseconds)."
BINDING_OPERATION = "Operation not permitted on package binding."


def not_authorized_for(resource: str) -> str:
    """403: the caller may not touch another namespace's resource."""
    return f"The supplied authentication is not authorized to access '{resource}'."


def too_large(what: str, size: int, limit: int) -> str:
    """413 for a part of an entity over its size limit."""
    return f"{what} larger than allowed: {size} > {limit} bytes."


class ApiError(Exception):
    """An answer other than success: the HTTP status and OpenWhisk's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def too_many_requests(count: int, allowed: int) -> str:
    """429: the namespace's invocations (or fires) of this minute reached its limit."""
    return f"Too many requests in the last minute (count: {count}, allowed: {allowed})."


def too_many_concurrent_requests(count: int, allowed: int) -> str:
    """429: the namespace's activations in flight reached its limit."""
    return f"Too many concurrent requests in flight (count: {count}, allowed: {allowed})."
