"""Where events go: the logs, the state file, sd_notify, alerts, metrics, the history."""
