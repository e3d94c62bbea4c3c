"""Jobs written out for other schedulers (``oven export``): pure functions, no I/O."""
