"""Relational tables through SQLAlchemy 2: SQLite (the embedded default) and PostgreSQL.

A package because the two databases need alike transactions before one adapter can drive both:
`engines` makes a SQLite write take the database's lock up front and a PostgreSQL write take a
per-table advisory lock, and translates driver errors; `schema` maps the sink's column types to
SQL and back. SQLAlchemy is imported only when an engine is built or a call is made, so
importing this package costs nothing.
"""
