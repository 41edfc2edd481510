"""TFDS builders for micro-expression databases (array_record, no TensorFlow)."""
