"""Ports: the Protocols the services depend on, implemented by the adapters."""
