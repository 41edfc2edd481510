"""Training: protocols (fold tables), optimiser, the fold-parallel trainer, one experiment."""
