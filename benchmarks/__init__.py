"""adjit's benchmark suite: ``adjit bench`` (or ``python -m adjit.benchmarks``) runs it."""
