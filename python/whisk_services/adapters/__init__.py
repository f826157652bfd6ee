"""Adapters: the ports (``whisk_services.ports``) implemented on real infrastructure.

``couchdb`` speaks the CouchDB HTTP API subset that Apache CouchDB 3 and PouchDB Server both
serve; ``memory`` keeps the same contract in memory for the controller's unit tests.
"""
