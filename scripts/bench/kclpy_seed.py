#!/usr/bin/env python3
"""amazon-kclpy v3 processor written the way the seed family (lorrystream's
KCL spike on top of the kclpy sample) writes them: decode every record's
JSON, one autocommitted INSERT per record, checkpoint every 60 s with the
5 x 5 s retry helper, checkpoint on shutdown_requested and shard_ended,
log to a file, swallow processing errors.
"""

import json
import time

import psycopg
from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor
from psycopg.types.json import Json, Jsonb

import bench_common

logger = bench_common.file_logger("kclpy_seed")


class RecordProcessor(processor.RecordProcessorBase):
    def __init__(self):
        self._CHECKPOINT_FREQ_SECONDS = 60
        self._largest_seq = (None, None)
        self._last_checkpoint_time = None
        self._retrying = bench_common.RetryingCheckpointer(logger)
        self._conn = None
        self._insert = None
        self._shard_id = None

    def initialize(self, initialize_input):
        self._shard_id = initialize_input.shard_id
        self._largest_seq = (None, None)
        self._last_checkpoint_time = time.time()
        self._conn = psycopg.connect(bench_common.database_url(), autocommit=True)
        table = bench_common.table_name()
        bench_common.ensure_table(self._conn, table)
        self._insert = bench_common.insert_statement(table)
        # CrateDB takes objects as json (it has no jsonb type).
        self._adapt = Json if bench_common.is_cratedb(self._conn) else Jsonb
        logger.info("initialized shard %s at %s", self._shard_id, initialize_input.sequence_number)

    def process_record(self, record, seq, sub_seq):
        doc = json.loads(record.binary_data.decode("utf-8"))
        with self._conn.cursor() as cur:
            cur.execute(
                self._insert,
                (self._shard_id, str(seq), sub_seq, record.partition_key, bench_common.arrival(record), self._adapt(doc)),
            )

    def should_update_sequence(self, sequence_number, sub_sequence_number):
        return (
            self._largest_seq == (None, None)
            or sequence_number > self._largest_seq[0]
            or (sequence_number == self._largest_seq[0] and sub_sequence_number > self._largest_seq[1])
        )

    def process_records(self, process_records_input):
        try:
            for record in process_records_input.records:
                seq = int(record.sequence_number)
                sub_seq = record.sub_sequence_number
                self.process_record(record, seq, sub_seq)
                if self.should_update_sequence(seq, sub_seq):
                    self._largest_seq = (seq, sub_seq)
            logger.info("processed %d records", len(process_records_input.records))
            if time.time() - self._last_checkpoint_time > self._CHECKPOINT_FREQ_SECONDS:
                self._retrying.checkpoint(
                    process_records_input.checkpointer, str(self._largest_seq[0]), self._largest_seq[1]
                )
                self._last_checkpoint_time = time.time()
        except Exception as e:
            logger.error("exception while processing records: %s", e)

    def lease_lost(self, lease_lost_input):
        logger.warning("lease lost")

    def shard_ended(self, shard_ended_input):
        logger.warning("shard ended, checkpointing")
        shard_ended_input.checkpointer.checkpoint()

    def shutdown_requested(self, shutdown_requested_input):
        logger.warning("shutdown requested, checkpointing")
        shutdown_requested_input.checkpointer.checkpoint()


if __name__ == "__main__":
    kcl.KCLProcess(RecordProcessor()).run()
