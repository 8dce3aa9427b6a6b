"""A py-spy stand-in that never answers: a snapshot must give up on it at its timeout."""

import time

time.sleep(30)
