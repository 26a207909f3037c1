"""HTTP routes for Overlord, served from API Gateway proxy events and by ``overlord serve``.

One route table (`overlord.entrypoints.api.routes`) is registered on both Powertools resolvers
(REST API v1 and HTTP API v2 events), so a route behaves the same whichever API Gateway flavour
or the local server carries it. `HttpApi` is the one way in; nothing here is built at import.
"""
