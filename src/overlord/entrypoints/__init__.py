"""Ways into Overlord from outside Python: the ``overlord`` CLI, HTTP routes, Lambda handlers.

Each entrypoint is thin: it validates at the edge, builds the container once, calls a service and
maps domain errors to its own way of failing (exit codes, HTTP statuses) in one place.
"""
