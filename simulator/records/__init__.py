"""Typed records that models emit and `metrics/` reads: the contract between the two.

Each module holds the rows of one concern (numbers, not prose). Models import these to fill
them; metrics import them to read them; neither imports the other.
"""
