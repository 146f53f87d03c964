"""Reproducible benchmarks: `python -m bench` (all) or `python -m bench NAME ...` (some).

Each benchmark measures a figure of the proxy and, in the same run on the same machine, the ceiling it is
compared with (a minimal handler, a bare SQL scan, PostgreSQL's own COPY, /healthz). Results go to
docs/benchmarks.md. A benchmark is not a test: it never runs in `make test`, and every load loop is bounded
in count and in time and targets 127.0.0.1 only.
"""
