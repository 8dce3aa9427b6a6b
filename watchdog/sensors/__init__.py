"""What the watchdog measures: the health probe, samples, the quick RSS check, who holds a port."""
