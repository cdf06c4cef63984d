"""Volumes and cases: reading and writing files, checks, preprocessing, splits, datasets, phantoms."""
