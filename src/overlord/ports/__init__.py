"""The interfaces services need, as `typing.Protocol`s over domain types.

Adapters do not inherit from these; mypy checks them structurally wherever the container or a
contract-test factory annotates an adapter with its port.
"""
