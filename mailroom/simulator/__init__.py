"""Deterministic demo data for Mailroom: a simulated sporting-goods retailer.

``generate`` writes every landing source of :mod:`mailroom.contract` (mixed CSV,
Parquet and JSONL part files with deliberate, logged defects) and a ground truth
(people, identifiers, defects, cart adds) that tests and benchmarks join back to the
landing files by file name and row number.
"""

from mailroom.simulator.core import SimulationSummary, generate

__all__ = ["SimulationSummary", "generate"]
