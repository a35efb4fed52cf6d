"""Helpers that generated modules import at run time, compiled once per target.

Each target has one module here (``cpu.py``: ``numba.njit``); each compiles the same
boundary rules of :mod:`stencilc.boundary`, so every target reads outside an array alike.
"""
