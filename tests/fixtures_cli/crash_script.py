"""Imports a module next to it (its folder must be on sys.path), then raises."""
import models

raise ValueError(f"boom after {models.Tiny.__name__}")
