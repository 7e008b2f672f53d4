"""Experiments that run many scenarios: the eras side by side, and the growth sweep."""
