"""Local model inference with ONNX Runtime: execution providers, sessions, models. No Qt."""
