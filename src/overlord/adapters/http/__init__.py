"""HTTP APIs as a Source, on the standard library alone (``urllib``).

No third-party HTTP client: the adapter needs one GET with streaming, timeouts and retries, and
keeping ``requests`` out keeps the Lambda install and its cold import small.
"""
