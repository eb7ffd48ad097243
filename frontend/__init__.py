"""The tracer and the public compiler entry points (``compile``, ``explain``)."""
