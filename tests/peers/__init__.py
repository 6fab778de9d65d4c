"""The peers' own subprocess test suites, run against our objects (issue #15).

``python -m tests.peers anyio`` runs anyio's ``tests/test_subprocesses.py`` (from anyio's sdist
at the installed version, downloaded into a cache, never vendored) with ``anyio.open_process``
returning our ``Process``; ``python -m tests.peers cpython`` runs CPython's
``test_asyncio/test_subprocess.py`` (from the interpreter's ``test`` package) with asyncio's
subprocess factories resolved to ours. Each runs the suite stock, then on ours, and enforces:
every test that passes stock passes on ours, on every backend, except those listed in
``exclusions.py`` (each with its reason); a listed test that passes fails the run (strict).
"""
