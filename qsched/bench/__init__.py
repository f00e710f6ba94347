"""Benchmarks: the batch runner (`qsched bench`), the QUBO sampler benchmark, and their
reports and figures. Needs the ``bench`` extra (matplotlib) for figures; the service never
imports it."""
