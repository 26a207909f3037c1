"""Implementations of the ports: memory, local, AWS and other technologies."""
