"""whisk_services: a Python implementation of Apache OpenWhisk's daemons and CLIs.

The controller, invoker, registrator and the `wsk` CLI live in this package, layered as
DESIGN.md §4 describes (model, ports, adapters, then the services). Each layer arrives with
the issue that builds it.

``__version__`` is the installed distribution's version (``whisk-services`` in
``pyproject.toml``), so that an image built from the wheel of version V says V (the
controller's ``GET /api/v1`` and its OpenAPI document); "0+unknown" when the package runs
from a source tree that was never installed.
"""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "whisk-services"
UNKNOWN_VERSION = "0+unknown"


def installed_version(distribution: str = DISTRIBUTION) -> str:
    """The version of the installed ``distribution``, or ``UNKNOWN_VERSION``."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return UNKNOWN_VERSION


__version__ = installed_version()
