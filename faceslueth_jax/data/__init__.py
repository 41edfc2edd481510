"""Data: the synthetic face generator, reading TFDS records into memory, augmentation."""
