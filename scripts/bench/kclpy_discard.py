#!/usr/bin/env python3
"""amazon-kclpy processor that decodes every record (base64 and JSON) and
writes nothing: the Python counterpart of our child's discard sink, i.e.
the cost of kclpy's protocol handling plus decoding alone.
"""

import json

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor

import bench_common

logger = bench_common.file_logger("kclpy_discard")


class RecordProcessor(processor.RecordProcessorBase):
    def __init__(self):
        self._retrying = bench_common.RetryingCheckpointer(logger)
        self._decoded = 0

    def initialize(self, initialize_input):
        logger.info("initialized shard %s", initialize_input.shard_id)

    def process_records(self, process_records_input):
        for record in process_records_input.records:
            json.loads(record.binary_data.decode("utf-8"))
            self._decoded += 1
        records = process_records_input.records
        if records:
            last = records[-1]
            self._retrying.checkpoint(
                process_records_input.checkpointer, last.sequence_number, last.sub_sequence_number
            )

    def lease_lost(self, lease_lost_input):
        logger.info("lease lost after %d records", self._decoded)

    def shard_ended(self, shard_ended_input):
        self._retrying.checkpoint(shard_ended_input.checkpointer)

    def shutdown_requested(self, shutdown_requested_input):
        self._retrying.checkpoint(shutdown_requested_input.checkpointer)


if __name__ == "__main__":
    kcl.KCLProcess(RecordProcessor()).run()
