"""Features: backbones and the features table that every method reads."""
