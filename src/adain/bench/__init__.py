"""Benchmarks (``adain bench``): latency and peak memory against a paper baseline and the FLOP floor."""
