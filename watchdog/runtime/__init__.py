"""The imperative shell: the event loop, and the effects that carry out the commands."""
