"""Using a trained model: its folder, a new clip's inputs, predictions, pictures."""
