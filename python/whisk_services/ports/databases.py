"""The databases the platform uses (named as OpenWhisk names them) and the indexes each declares.

The controller and the invoker both ensure them at start, so either may start first; an index
is declared in one place only, since `ensure` rewrites a database's design document to match.
"""

from __future__ import annotations

from whisk_services.ports.documents import IndexSpec

ENTITY_TYPES = ("action", "trigger", "rule", "package")

WHISKS_INDEXES = (
    *(
        IndexSpec(f"{kind}s", ("namespace", "updated"), {"entityType": kind})
        for kind in ENTITY_TYPES
    ),
    IndexSpec(
        "packages-public", ("namespace", "updated"), {"entityType": "package", "publish": True}
    ),
)
ACTIVATIONS_INDEXES = (
    IndexSpec("activations", ("namespace", "start"), {"entityType": "activation"}),
    IndexSpec("activations-by-name", ("namespace", "name", "start"), {"entityType": "activation"}),
)
SUBJECTS_INDEXES = (
    IndexSpec("identities", ("uuid",), {"entityType": "subject"}),
    IndexSpec("namespaces", ("namespace",), {"entityType": "subject"}),
)


def database_names(prefix: str) -> dict[str, str]:
    """The three databases, named as OpenWhisk names them: `<prefix>subjects` and so on."""
    return {name: f"{prefix}{name}" for name in ("subjects", "whisks", "activations")}
