"""The ``proxyflow`` command line (``proxyflow demo``) of the proxyflow meta package.

Modules:

* :mod:`proxyflow.cli.app`: the Typer application and :func:`~proxyflow.cli.app.main`.
* :mod:`proxyflow.cli.demo`: the demo pipeline, :func:`~proxyflow.cli.demo.run_demo`.
* :mod:`proxyflow.cli.report`: the :class:`~proxyflow.cli.report.DemoReport` and its table.
* :mod:`proxyflow.cli.options`: parsing of sizes, broker and store URLs.
* :mod:`proxyflow.cli.backends`: building shims and connectors from those.
* :mod:`proxyflow.cli.generator`, :mod:`proxyflow.cli.worker`,
  :mod:`proxyflow.cli.chunks`, :mod:`proxyflow.cli.counting`: the pieces the
  pipeline's processes run.
"""
