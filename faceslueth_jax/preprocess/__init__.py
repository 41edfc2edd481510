"""Preprocessing: TV-L1 optical flow in JAX and optical strain."""
