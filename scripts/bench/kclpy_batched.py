#!/usr/bin/env python3
"""The strongest reasonable amazon-kclpy processor: each process_records
batch written with the fastest bulk path the database offers to Python,
then a checkpoint at the batch's last record. Payloads travel as text, so
Python never parses them.

BENCH_PY_METHOD selects the batching (default: copy on PostgreSQL,
executemany on CrateDB):
  copy         PostgreSQL: COPY ... FROM STDIN straight into the table in one
               transaction (psycopg's fastest path); if a replay meets rows
               already there, the batch goes again with executemany and
               ON CONFLICT DO NOTHING
  executemany  cursor.executemany of a single-row INSERT ... ON CONFLICT DO
               NOTHING, which psycopg 3 pipelines (every Bind/Execute before
               one Sync); CrateDB runs such a batch as one bulk operation
  unnest       one INSERT ... SELECT FROM unnest(arrays) per batch
  crate-http   CrateDB's own Python client (`crate`, HTTP): executemany is one
               request with bulk_args, CrateDB's documented bulk insert
"""

import os

import psycopg
from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor
from psycopg import sql

import bench_common

logger = bench_common.file_logger("kclpy_batched")

COLUMNS = "shard_id, seq, sub_seq, partition_key, arrived_at, payload"
UNNEST_PG = (
    "INSERT INTO {table} (" + COLUMNS + ") "
    "SELECT %s, s, ss, pk, at, p::jsonb FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::timestamptz[], %s::text[]) "
    "AS r(s, ss, pk, at, p) ON CONFLICT DO NOTHING"
)
UNNEST_CRATE = (
    "INSERT INTO {table} (" + COLUMNS + ") "
    "SELECT %s, s, ss, pk, at, p FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::timestamptz[], %s::array(object)) "
    "AS r(s, ss, pk, at, p) ON CONFLICT DO NOTHING"
)


class RecordProcessor(processor.RecordProcessorBase):
    def __init__(self):
        self._retrying = bench_common.RetryingCheckpointer(logger)
        self._method = os.environ.get("BENCH_PY_METHOD", "")
        self._conn = None
        self._http = None
        self._shard_id = None

    def initialize(self, initialize_input):
        self._shard_id = initialize_input.shard_id
        table = bench_common.table_name()
        url = bench_common.database_url()
        # CrateDB has no transactions (and no ROLLBACK): autocommit there.
        self._conn = psycopg.connect(url)
        self._crate = bench_common.is_cratedb(self._conn)
        if self._crate:
            self._conn.autocommit = True
        if not self._method:
            self._method = "executemany" if self._crate else "copy"
        bench_common.ensure_table(self._conn, table)
        ident = bench_common.table_ident(table)
        self._insert = bench_common.insert_statement(table, "%s::" + bench_common.payload_type(self._conn))
        self._unnest = sql.SQL(UNNEST_CRATE if self._crate else UNNEST_PG).format(table=ident)
        self._copy = sql.SQL("COPY {table} (" + COLUMNS + ") FROM STDIN").format(table=ident)
        if self._method == "crate-http":
            from crate import client

            self._http = client.connect(os.environ["BENCH_CRATEDB_HTTP"])
            self._http_insert = (
                'INSERT INTO %s (%s) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'
                % (table, COLUMNS)
            )
        logger.info("initialized shard %s, method %s, cratedb %s", self._shard_id, self._method, self._crate)

    def _rows(self, records):
        shard = self._shard_id
        return [
            (shard, r.sequence_number, r.sub_sequence_number, r.partition_key,
             bench_common.arrival(r), r.binary_data.decode("utf-8"))
            for r in records
        ]

    def _write(self, records):
        if self._method == "crate-http":
            # The HTTP endpoint takes the payload as a JSON object; the
            # client serialises the parameters to JSON, so it is parsed here.
            import json

            rows = [
                (self._shard_id, r.sequence_number, r.sub_sequence_number, r.partition_key,
                 r.timestamp_millis, json.loads(r.binary_data))
                for r in records
            ]
            cur = self._http.cursor()
            results = cur.executemany(self._http_insert, rows)
            failed = sum(1 for res in results if res.get("rowcount", 0) < 0)
            if failed:
                raise RuntimeError("%d rows failed in the bulk request" % failed)
            return
        if self._method == "copy":
            try:
                with self._conn.transaction(), self._conn.cursor() as cur, cur.copy(self._copy) as copy:
                    for row in self._rows(records):
                        copy.write_row(row)
                return
            except psycopg.errors.UniqueViolation:
                logger.info("replayed rows in the batch; inserting with ON CONFLICT DO NOTHING")
        with self._conn.cursor() as cur:
            if self._crate:
                self._batch(cur, records)
            else:
                with self._conn.transaction():
                    self._batch(cur, records)

    def _batch(self, cur, records):
        if self._method == "unnest":
            rows = self._rows(records)
            cur.execute(self._unnest, (self._shard_id,) + tuple(list(col) for col in zip(*rows))[1:])
        else:
            cur.executemany(self._insert, self._rows(records))

    def process_records(self, process_records_input):
        records = process_records_input.records
        if not records:
            return
        try:
            self._write(records)
        except Exception as e:
            # Not checkpointing makes KCL redeliver after a restart.
            logger.error("batch of %d records failed: %s", len(records), e)
            return
        last = records[-1]
        self._retrying.checkpoint(
            process_records_input.checkpointer, last.sequence_number, last.sub_sequence_number
        )

    def lease_lost(self, lease_lost_input):
        logger.warning("lease lost")

    def shard_ended(self, shard_ended_input):
        self._retrying.checkpoint(shard_ended_input.checkpointer)

    def shutdown_requested(self, shutdown_requested_input):
        self._retrying.checkpoint(shutdown_requested_input.checkpointer)


if __name__ == "__main__":
    kcl.KCLProcess(RecordProcessor()).run()
