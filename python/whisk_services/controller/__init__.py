"""The controller: OpenWhisk's REST API v1 over the document stores.

It authenticates every request, checks entitlement, validates entities through the model and
keeps them in CouchDB, serving warm reads from a cache that follows the database's changes.
"""
