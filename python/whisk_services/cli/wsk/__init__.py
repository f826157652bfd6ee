"""`wsk`: the OpenWhisk command-line client (a subset of apache/openwhisk-cli).

Entry point: `whisk_services.cli.wsk.main:main`.
"""
