"""The functional core: facts in, commands out. Nothing here does I/O or reads a clock."""
