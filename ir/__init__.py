"""The one definition of every primitive op: dtypes, the op enum and its per-concern tables."""
