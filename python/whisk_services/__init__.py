"""whisk_services: a Python implementation of Apache OpenWhisk's daemons and CLIs.

The controller, invoker, registrator and the `wsk` CLI live in this package, layered as
DESIGN.md §4 describes (model, ports, adapters, then the services). Each layer arrives with
the issue that builds it.
"""

__version__ = "0.1.0"
