"""Writing a trained model for others to run: merged or adapter (source), GGUF, ONNX."""
