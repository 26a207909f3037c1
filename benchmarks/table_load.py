"""What a `SqlTableSink.load` costs over the plain bulk loads it replaces, at 1,000,000 rows.

Why: processing a raw folder ends in one `TableSink.load`, and a quarter of FFIEC Call Reports is
millions of cells. The sink does more than a bulk insert: it checks every value against the
port's rules in Python (`table_rules`), upserts by key instead of appending, records the load in
the ledger and holds the table's lock, all in one transaction. The ratios say what that costs.

Baselines, measured in the same run on the same frame (an int64, a float64 with missing
values, a text and a timestamp column, keyed by the int64 and a date, the folder's partition),
each into a fresh table, best of ``--rounds``:

- SQLite: ``DataFrame.to_sql`` (pandas' executemany, no key, no upsert);
- PostgreSQL: ``COPY ... FROM STDIN`` through psycopg of ``DataFrame.to_csv``'s text into a table
  with the same primary key (the floor: what one would hand-write for speed), and
  ``DataFrame.to_sql`` (plain INSERTs through SQLAlchemy).

PostgreSQL is a throwaway cluster started with Debian's binaries (as the tests do) unless
``--postgres URL`` names one. Run from the repository root:

    python benchmarks/table_load.py                  # 1,000,000 rows, best of 3
    python benchmarks/table_load.py --quick          # 20,000 rows, once
    python benchmarks/table_load.py --rows 200000 --postgres postgresql+psycopg://u@h/db
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from overlord.adapters.sql.table_sink import SqlTableSink
from overlord.adapters.table_rules import fit_load, prepare_load

PERIOD = date(2026, 3, 31)
KEY = ["id", "period"]


def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    amount = rng.normal(1e6, 1e5, rows)
    amount[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "period": [PERIOD] * rows,
            "amount": amount,
            "label": pd.Series([f"bank-{i % 5000}" for i in range(rows)], dtype="str"),
            "seen": pd.Timestamp("2026-03-31") + pd.to_timedelta(np.arange(rows) % 86400, "s"),
        }
    )


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster in a temporary folder, on a free port, for the benchmark's run."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise SystemExit("no /usr/lib/postgresql/*/bin/initdb: install postgresql or --postgres")
    newest = max(found, key=lambda path: [int(n) for n in re.findall(r"\d+", path)])
    binaries = Path(newest).parent
    root = Path(tempfile.mkdtemp(prefix="overlord-bench-pg-"))
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix:
        shutil.chown(root, "postgres", "postgres")

    def run(tool: str, *args: str) -> None:
        subprocess.run([*prefix, str(binaries / tool), *args], check=True, capture_output=True)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        run("initdb", "-D", f"{root}/data", "-U", "postgres", "-A", "trust", "--no-sync")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        run("pg_ctl", "-D", f"{root}/data", "-l", f"{root}/log", "-w", "-o", options, "start")
        try:
            run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "bench")
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench"
        finally:
            run("pg_ctl", "-D", f"{root}/data", "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def best(rounds: int, run: Callable[[str], float]) -> float:
    """The fastest of ``rounds`` runs, each into a fresh table; a run returns its own time."""
    return min(run(f"t_{uuid.uuid4().hex[:16]}") for _ in range(rounds))


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def sink_load(url: str, frame: pd.DataFrame, *, reload: str = "") -> Callable[[str], float]:
    """A load into a new table; with ``reload``, the same rows again under a new load_id into
    the table they already fill: ``"upsert"`` (every key a conflict, updated) or ``"replace"``
    (the folder's partition deleted and written anew, as `process_folder` loads a folder)."""
    sink = SqlTableSink(url)
    sink.tables()  # connect and create the ledger outside the timing
    replace = {"period": PERIOD} if reload == "replace" else None

    def run(table: str) -> float:
        if reload:
            sink.load(table, frame, key=KEY, load_id=f"bench:{table}:first")
        return timed(
            lambda: sink.load(table, frame, key=KEY, load_id=f"bench:{table}", replace=replace)
        )

    return run


def to_sql(engine: sa.Engine, frame: pd.DataFrame) -> Callable[[str], float]:
    def run(table: str) -> float:
        return timed(lambda: frame.to_sql(table, engine, index=False, chunksize=100_000))

    return run


def copy(engine: sa.Engine, frame: pd.DataFrame) -> Callable[[str], float]:
    """COPY of the frame as CSV text into a keyed table; ``to_csv`` happens before the clock
    starts, so this is the server's floor, not what a hand-written loader would take."""
    text = io.StringIO()
    frame.to_csv(text, index=False, header=False)
    data = text.getvalue()

    def run(table: str) -> float:
        with engine.begin() as connection:
            start = time.perf_counter()
            connection.exec_driver_sql(
                f"CREATE TABLE {table} (id BIGINT, period DATE, amount DOUBLE PRECISION, "
                "label TEXT, seen TIMESTAMP, PRIMARY KEY (id, period))"
            )
            driver = connection.connection.driver_connection
            with (
                driver.cursor() as cursor,  # type: ignore[union-attr]
                cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as stream,
            ):
                stream.write(data)
        return time.perf_counter() - start  # the commit included

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, one round")
    parser.add_argument("--postgres", help="a postgresql+psycopg:// URL instead of a throwaway")
    args = parser.parse_args()
    rows, rounds = (20_000, 1) if args.quick else (args.rows, args.rounds)
    frame = make_frame(rows)

    checking = timed(lambda: fit_load(prepare_load("t", frame, KEY, "bench"), None))
    figures: dict[str, float] = {"checking": checking}
    with tempfile.TemporaryDirectory(prefix="overlord-bench-sqlite-") as folder:
        url = f"sqlite:///{folder}/tables.sqlite3"
        engine = sa.create_engine(url)
        figures["sqlite_to_sql"] = best(rounds, to_sql(engine, frame))
        figures["sqlite_sink"] = best(rounds, sink_load(url, frame))
        figures["sqlite_sink_upsert"] = best(rounds, sink_load(url, frame, reload="upsert"))
        figures["sqlite_sink_replace"] = best(rounds, sink_load(url, frame, reload="replace"))
        engine.dispose()
    with contextlib.ExitStack() as stack:
        url = args.postgres or stack.enter_context(throwaway_postgres())
        engine = sa.create_engine(url)
        figures["pg_copy"] = best(rounds, copy(engine, frame))
        figures["pg_to_sql"] = best(rounds, to_sql(engine, frame))
        figures["pg_sink"] = best(rounds, sink_load(url, frame))
        figures["pg_sink_upsert"] = best(rounds, sink_load(url, frame, reload="upsert"))
        figures["pg_sink_replace"] = best(rounds, sink_load(url, frame, reload="replace"))
        engine.dispose()

    print(
        f"{rows:,} rows x 5 columns (key: int64, date; float64, text, timestamp); best of {rounds}"
    )
    print(f"{'what':<44}{'seconds':>9}{'rows/s':>11}{'ratio':>24}")
    lines = [
        ("SQLite DataFrame.to_sql", "sqlite_to_sql", "sqlite_to_sql", "to_sql"),
        ("SQLite sink, new table", "sqlite_sink", "sqlite_to_sql", "to_sql"),
        ("SQLite sink, folder again (replace)", "sqlite_sink_replace", "sqlite_to_sql", "to_sql"),
        ("SQLite sink, keys again (upsert)", "sqlite_sink_upsert", "sqlite_to_sql", "to_sql"),
        ("PG COPY of CSV (to_csv excluded)", "pg_copy", "pg_copy", "COPY"),
        ("PG DataFrame.to_sql", "pg_to_sql", "pg_copy", "COPY"),
        ("PG sink, new table", "pg_sink", "pg_copy", "COPY"),
        ("PG sink, new table", "pg_sink", "pg_to_sql", "to_sql"),
        ("PG sink, folder again (replace)", "pg_sink_replace", "pg_copy", "COPY"),
        ("PG sink, keys again (upsert)", "pg_sink_upsert", "pg_copy", "COPY"),
        ("PG sink, keys again (upsert)", "pg_sink_upsert", "pg_to_sql", "to_sql"),
        ("checking and converting (any adapter)", "checking", "pg_sink", "PG sink, new"),
    ]  # fmt: skip
    for name, what, baseline, label in lines:
        seconds = figures[what]
        ratio = f"{seconds / figures[baseline]:.2f}x {label}"
        print(f"{name:<44}{seconds:>9.3f}{rows / seconds:>11,.0f}{ratio:>24}")
    print("baselines are measured in the same run; a ratio is time over the baseline's")
    print(json.dumps({"rows": rows, "rounds": rounds, "seconds": figures}))


if __name__ == "__main__":
    main()
