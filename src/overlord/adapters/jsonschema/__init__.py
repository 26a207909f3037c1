"""Payload schemas checked with the ``jsonschema`` library.

``jsonschema`` is imported only when a schema is first checked, so importing this package costs
nothing and a job type without a ``payload_schema`` never loads it.
"""
