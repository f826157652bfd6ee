"""Real infrastructure servers started on loopback for tests, benchmarks and local runs.

Each server (ZooKeeper, Kafka, Consul, the CouchDB-API server) is a real process started from
the artifacts that `make artifacts` staged or from Debian's packages, on free loopback ports,
with its log kept on disk. Nothing here is a fake.
"""
