"""The fault suite's kit: durable brokers, producer and consumer roles, scenarios, the table.

Kept in an importable package (the suite's conftest, and ``hatch run
faults:report``, put its folder on ``sys.path``) because spawned processes
must import the functions they run.
"""
