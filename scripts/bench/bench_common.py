"""Shared set-up for the amazon-kclpy benchmark contenders.

Environment:
  BENCH_DATABASE_URL  PostgreSQL or CrateDB URL (required by the SQL contenders;
                      CrateDB is detected by its crate_version parameter)
  BENCH_TABLE         target table, created if missing (default kinesis_records)
  BENCH_LOG_DIR       directory of the processors' log files (default: cwd)

The contenders log to a file because stdout belongs to the protocol.
"""

import logging
import logging.handlers
import os
from datetime import datetime, timezone

from psycopg import sql

# Same layout as the Go sink's table, so rows are comparable.
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    shard_id      TEXT        NOT NULL,
    seq           TEXT        NOT NULL,
    sub_seq       BIGINT      NOT NULL,
    partition_key TEXT        NOT NULL,
    arrived_at    TIMESTAMPTZ,
    payload       JSONB,
    written_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (shard_id, seq, sub_seq)
)
"""


# The same on CrateDB (the sink's layout there; scripts/bench/run.sh makes the
# table with `kinesis-cratedb check` anyway).
CREATE_TABLE_CRATEDB = """
CREATE TABLE IF NOT EXISTS {table} (
    shard_id      TEXT        NOT NULL,
    seq           TEXT        NOT NULL,
    sub_seq       BIGINT      NOT NULL,
    partition_key TEXT,
    arrived_at    TIMESTAMP WITH TIME ZONE,
    payload       OBJECT(DYNAMIC),
    written_at    TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (shard_id, seq, sub_seq)
)
"""


def is_cratedb(conn):
    """CrateDB announces itself with the crate_version parameter."""
    return bool(conn.info.parameter_status("crate_version"))


def payload_type(conn):
    """The payload parameter's cast: CrateDB's object or jsonb."""
    return "OBJECT" if is_cratedb(conn) else "JSONB"


def database_url():
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        raise SystemExit("BENCH_DATABASE_URL is not set")
    return url


def table_name():
    return os.environ.get("BENCH_TABLE", "kinesis_records")


def table_ident(table):
    """A [schema.]table name as an identifier."""
    return sql.Identifier(*table.split("."))


def ensure_table(conn, table):
    """Creates the table (autocommit or not, the DDL is committed here)."""
    ddl = CREATE_TABLE_CRATEDB if is_cratedb(conn) else CREATE_TABLE
    with conn.cursor() as cur:
        cur.execute(sql.SQL(ddl).format(table=table_ident(table)))
    if not conn.autocommit:
        conn.commit()


def insert_statement(table, payload_placeholder="%s"):
    return sql.SQL(
        "INSERT INTO {table} (shard_id, seq, sub_seq, partition_key, arrived_at, payload) "
        "VALUES (%s, %s, %s, %s, %s, " + payload_placeholder + ") ON CONFLICT DO NOTHING"
    ).format(table=table_ident(table))


def arrival(record):
    """The record's arrival time as an aware UTC datetime.

    kclpy's own approximate_arrival_timestamp is a naive local time, which
    would shift by the session time zone in a TIMESTAMPTZ column.
    """
    return datetime.fromtimestamp(record.timestamp_millis / 1000.0, tz=timezone.utc)


def file_logger(name):
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    path = os.path.join(os.environ.get("BENCH_LOG_DIR", "."), name + ".log")
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=10**7, backupCount=2)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(funcName)s - %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    return logger


class RetryingCheckpointer:
    """The seed family's checkpoint helper: 5 attempts, 5 s apart; stop on
    ShutdownException, give up quietly after the last throttle."""

    def __init__(self, logger, retries=5, sleep_seconds=5):
        self.logger = logger
        self.retries = retries
        self.sleep_seconds = sleep_seconds

    def checkpoint(self, checkpointer, sequence_number=None, sub_sequence_number=None):
        import time

        from amazon_kclpy import kcl

        for attempt in range(self.retries):
            try:
                checkpointer.checkpoint(sequence_number, sub_sequence_number)
                return True
            except kcl.CheckpointError as e:
                if e.value == "ShutdownException":
                    self.logger.error("shutdown exception, skipping checkpoint")
                    return False
                if e.value == "ThrottlingException" and attempt == self.retries - 1:
                    self.logger.error("throttled %d times, giving up", self.retries)
                    return False
                self.logger.error("checkpoint failed with %s (attempt %d)", e.value, attempt + 1)
            time.sleep(self.sleep_seconds)
        return False
