"""Routing replay: the recorded traffic replayed through candidate routing policies."""
