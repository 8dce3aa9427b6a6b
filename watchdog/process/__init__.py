"""The app's processes at the OS level: spawn, stop a tree, reap, the held socket."""
