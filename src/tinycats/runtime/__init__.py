"""ONNX Runtime inference for the CLI (no torch): classify.py (breed classifier), sample.py
(generator)."""
