"""`whisk-registrator`: the services that Docker containers declare, kept in Consul.

Follows the Docker Engine's container events and registers, in the local Consul agent, one
service per published port of each container that declares it (``SERVICE_NAME`` or
``SERVICE_<port>_NAME``, as gliderlabs/registrator with ``-explicit``), and deregisters it
when the container stops. ``services`` holds the rules, ``registrator`` the event loop and
the resync, ``main`` the daemon; the Docker Engine side is ``adapters/docker_events``.
"""
