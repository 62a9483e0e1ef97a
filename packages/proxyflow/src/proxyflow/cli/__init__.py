"""The ``proxyflow`` command line (``proxyflow demo``) of the proxyflow meta package.

Modules:

* [`proxyflow.cli.app`][proxyflow.cli.app]: the Typer application and
  [`main`][proxyflow.cli.app.main].
* [`proxyflow.cli.demo`][proxyflow.cli.demo]: the demo pipeline,
  [`run_demo`][proxyflow.cli.demo.run_demo].
* [`proxyflow.cli.report`][proxyflow.cli.report]: the
  [`DemoReport`][proxyflow.cli.report.DemoReport] and its table.
* [`proxyflow.cli.options`][proxyflow.cli.options]: parsing of sizes, broker and store URLs.
* [`proxyflow.cli.backends`][proxyflow.cli.backends]: building shims and connectors from those.
* [`proxyflow.cli.generator`][proxyflow.cli.generator],
  [`proxyflow.cli.worker`][proxyflow.cli.worker], [`proxyflow.cli.chunks`][proxyflow.cli.chunks],
  [`proxyflow.cli.counting`][proxyflow.cli.counting]: the pieces the pipeline's
  processes run.
"""
