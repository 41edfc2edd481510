"""Models: SOA, the motion and Swin appearance streams, FaceSleuth-R, baselines."""
