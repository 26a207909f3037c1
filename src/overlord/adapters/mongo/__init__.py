"""MongoDB (Atlas, a replica set, DocumentDB with limits) as the DocumentStore, via pymongo.

A package rather than one module because the port's rules need translating into MongoDB's query
language (`queries`), lazily created databases need a marker to be told apart (`schema`), and
pymongo's errors need translating into Overlord's (`client`), before the adapter itself
(`document_store`) can stay a thin sequence of driver calls. pymongo is imported only when a
client is built or an error is caught, so importing this package costs nothing.
"""
