"""The meters usage is counted in (pure names; units, parsing and events live in :mod:`suanli.ledger.meters`).

The enum lives in the domain so that domain objects the store returns (packages, package
products) can name a meter without the store importing the ledger.
"""

from __future__ import annotations

from enum import StrEnum


class Meter(StrEnum):
    DEVICE_SECONDS = "device_seconds"
    NODE_SECONDS = "node_seconds"
    STORAGE_GB_HOURS = "storage_gb_hours"
    EGRESS_GB = "egress_gb"
    DATA_PROCESSED_GB = "data_processed_gb"
    INFERENCE_INPUT_TOKENS = "inference_input_tokens"
    INFERENCE_OUTPUT_TOKENS = "inference_output_tokens"
    INFERENCE_CACHED_INPUT_TOKENS = "inference_cached_input_tokens"
    TRAINING_TOKENS = "training_tokens"
    JOB_DEVICE_SECONDS = "job_device_seconds"
