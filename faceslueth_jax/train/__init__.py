"""Training: protocols (fold tables), optimiser, placement, the fold-parallel trainer,
checkpoints, the sweep a config asks for."""
