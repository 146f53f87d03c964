"""`python -m bench [NAME ...]`: run benchmarks and write docs/benchmarks.md."""

from bench.runner import main

raise SystemExit(main())
