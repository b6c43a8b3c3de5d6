"""Ingest checks: a batch and its events validated field by field, times parsed,
countries resolved."""
