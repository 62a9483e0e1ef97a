"""Helpers of the proxyflow integration suite.

They live in an importable package (the suite's conftest puts its folder on
``sys.path``) because spawned processes must import the functions they run.
"""
