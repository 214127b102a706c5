#!/usr/bin/env python3
"""The strongest reasonable amazon-kclpy processor: one round of batched
INSERTs per process_records in one transaction, then a checkpoint at the
batch's last record.

BENCH_PY_METHOD selects the batching:
  executemany (default)  cursor.executemany, which psycopg 3 pipelines
                         (all Bind/Execute messages before one Sync)
  unnest                 a single INSERT ... SELECT FROM unnest(arrays)
Payloads go to PostgreSQL as text cast to jsonb, so Python never parses them.
"""

import os

import psycopg
from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor
from psycopg import sql

import bench_common

logger = bench_common.file_logger("kclpy_batched")

UNNEST = (
    "INSERT INTO {table} (shard_id, seq, sub_seq, partition_key, arrived_at, payload) "
    "SELECT %s, s, ss, pk, at, p::jsonb FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::timestamptz[], %s::text[]) "
    "AS r(s, ss, pk, at, p) ON CONFLICT DO NOTHING"
)


class RecordProcessor(processor.RecordProcessorBase):
    def __init__(self):
        self._retrying = bench_common.RetryingCheckpointer(logger)
        self._method = os.environ.get("BENCH_PY_METHOD", "executemany")
        self._conn = None
        self._shard_id = None

    def initialize(self, initialize_input):
        self._shard_id = initialize_input.shard_id
        self._conn = psycopg.connect(bench_common.database_url())
        table = bench_common.table_name()
        bench_common.ensure_table(self._conn, table)
        self._insert = bench_common.insert_statement(table, "%s::jsonb")
        self._unnest = sql.SQL(UNNEST).format(table=sql.Identifier(table))
        logger.info("initialized shard %s, method %s", self._shard_id, self._method)

    def _write(self, records):
        shard = self._shard_id
        with self._conn.transaction(), self._conn.cursor() as cur:
            if self._method == "unnest":
                cur.execute(
                    self._unnest,
                    (
                        shard,
                        [r.sequence_number for r in records],
                        [r.sub_sequence_number for r in records],
                        [r.partition_key for r in records],
                        [bench_common.arrival(r) for r in records],
                        [r.binary_data.decode("utf-8") for r in records],
                    ),
                )
            else:
                cur.executemany(
                    self._insert,
                    [
                        (shard, r.sequence_number, r.sub_sequence_number, r.partition_key,
                         bench_common.arrival(r), r.binary_data.decode("utf-8"))
                        for r in records
                    ],
                )

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
