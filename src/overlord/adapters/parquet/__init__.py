"""Parquet datasets over any ObjectStore; pyarrow loads inside the methods that need it."""
