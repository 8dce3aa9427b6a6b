"""The rules the steps consult: pure functions and small state machines fed with facts
and `now` (probes and the throttle, crashes, levels and sustain, trends, baselines, plans,
remedies, workers). They know nothing of the lifecycle."""
