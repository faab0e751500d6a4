"""Datasets: the registry, the embedded datasets and loaders of real releases."""
