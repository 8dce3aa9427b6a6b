"""The snapshot taken before a kill: processes, stacks, the child's last output."""
