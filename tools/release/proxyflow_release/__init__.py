"""Release tooling of the proxyflow monorepo: build, check, version and test distributions.

Everything here discovers the distributions from ``packages/*/pyproject.toml``; nothing
names a package in code. Run it through Hatch from the repository root, for example
``hatch run release:check`` (see ``docs/contributing.md``).
"""
