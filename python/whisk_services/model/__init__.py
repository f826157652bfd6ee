"""Pure data model of the platform: names, exec, limits, parameters, entities, activations.

Everything here is immutable data plus validation; nothing performs I/O and only the standard
library is imported. Validation failures raise `ModelError`, whose message is the text a
controller puts in the `{"error": ...}` body of a 400 response.
"""

from whisk_services.model.errors import ModelError

__all__ = ["ModelError"]
