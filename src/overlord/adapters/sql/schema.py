"""The sink's column kinds as SQL types and back, and the DDL a load may need.

One mapping in both directions keeps a table the sink created readable as the `TableSchema`
it was created from, on SQLite and PostgreSQL alike; a type the sink never creates (a table made
elsewhere) reads as unknown, and then the database alone decides what it accepts.

Every table and column name is quoted in every statement: SQLAlchemy quotes only the keywords it
knows, and SQLite has more (a column named ``nothing`` breaks ``ON CONFLICT ... DO UPDATE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from overlord.adapters.table_rules import LEDGER, ColumnKind, TableSchema

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table
    from sqlalchemy.engine import Connection
    from sqlalchemy.types import TypeEngine


def sql_type(kind: ColumnKind) -> TypeEngine[Any]:
    import sqlalchemy as sa

    types: dict[ColumnKind, TypeEngine[Any]] = {
        ColumnKind.INTEGER: sa.BigInteger(),
        ColumnKind.FLOAT: sa.Double(),
        ColumnKind.BOOLEAN: sa.Boolean(),
        ColumnKind.TEXT: sa.Text(),
        ColumnKind.TIMESTAMP: sa.DateTime(),
        ColumnKind.DATE: sa.Date(),
    }
    return types[kind]


def kind_of(sql: TypeEngine[Any]) -> ColumnKind | None:
    import sqlalchemy as sa

    # Float, not Numeric: a NUMERIC column holds Decimals, which are none of the sink's kinds.
    for kind, generic in (
        (ColumnKind.BOOLEAN, sa.Boolean),
        (ColumnKind.INTEGER, sa.Integer),
        (ColumnKind.FLOAT, sa.Float),
        (ColumnKind.TEXT, sa.String),
        (ColumnKind.TIMESTAMP, sa.DateTime),
        (ColumnKind.DATE, sa.Date),
    ):
        if isinstance(sql, generic):
            return kind
    return None


def ledger_table(metadata: MetaData) -> Table:
    """One row per load ever applied: what makes a repeated load a no-op."""
    import sqlalchemy as sa

    return sa.Table(
        _quoted(LEDGER),
        metadata,
        sa.Column(_quoted("load_id"), sa.String(255), primary_key=True),
        sa.Column(_quoted("table"), sa.String(63), nullable=False, index=True),
        sa.Column(_quoted("rows"), sa.BigInteger(), nullable=False),
        sa.Column(_quoted("loaded_at"), sa.DateTime(), nullable=False),
    )


def _quoted(name: str) -> str:
    from sqlalchemy.sql.elements import quoted_name

    return quoted_name(name, quote=True)


def table_names(connection: Connection) -> list[str]:
    import sqlalchemy as sa

    return [str(name) for name in sa.inspect(connection).get_table_names()]


def reflect(connection: Connection, name: str) -> Table:
    """The table as it is, every name quoted."""
    import sqlalchemy as sa

    found = sa.Table(name, sa.MetaData(), autoload_with=connection)
    return sa.Table(
        _quoted(name),
        sa.MetaData(),
        *(
            sa.Column(_quoted(column.name), column.type, primary_key=column.primary_key)
            for column in found.columns
        ),
    )


def schema_of(table: Table) -> TableSchema:
    # Plain strings: a quoted_name's lower() keeps its case, and names are compared ignoring it.
    columns = {str(column.name): kind_of(column.type) for column in table.columns}
    return TableSchema(columns, tuple(str(column.name) for column in table.primary_key.columns))


def create_table(
    connection: Connection, name: str, columns: Sequence[tuple[str, ColumnKind]], key: Sequence[str]
) -> Table:
    import sqlalchemy as sa

    table = sa.Table(
        _quoted(name),
        sa.MetaData(),
        *(
            sa.Column(_quoted(column), sql_type(kind), nullable=column not in key)
            for column, kind in columns
        ),
        sa.PrimaryKeyConstraint(*key),
    )
    table.create(connection)
    return table


def add_columns(
    connection: Connection, table: Table, columns: Sequence[tuple[str, ColumnKind]]
) -> None:
    """ALTER TABLE for each column; SQLAlchemy has no construct for it, and the names are checked
    identifiers, quoted, so the statement cannot carry anything else."""
    import sqlalchemy as sa

    quote = connection.dialect.identifier_preparer.quote_identifier
    for name, kind in columns:
        column_type = sql_type(kind)
        ddl = column_type.compile(dialect=connection.dialect)
        connection.exec_driver_sql(
            f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(name)} {ddl}"
        )
        table.append_column(sa.Column(_quoted(name), column_type))
