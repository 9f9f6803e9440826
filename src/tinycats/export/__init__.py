"""Export: ONNX files, quantised variants, parity checks, and the manifest the runtimes read."""
