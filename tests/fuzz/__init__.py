"""Helpers for the differential fuzzer: random programs, their strategies and their checks."""
