"""Embedding explorer library."""
