"""Signed updates: bundle, manifest, signature, slots, bootchooser, install, mark."""
