"""Every config key, declared once: its path, kind, default, what a reload does, and its doc.

Parsing, `watchdog check`, the shipped config/watchdog.yaml and the table of keys in
docs/reference/config.md are made from this table (`python -m watchdog.config.reference
--write` rewrites the two files).
A default is written as the YAML file writes it and read with the key's own converter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from watchdog.config.kinds import (
    ALERT_EVENTS,
    ARGUMENTS,
    CAP,
    COMMAND,
    DIRECTORY,
    DISK_PATHS,
    DURATION,
    ENV,
    ENV_FILE,
    EXPECT_BODY,
    FLAG,
    GROUP,
    HEADERS,
    LISTEN,
    METRICS_LISTEN,
    NAME,
    PERCENT,
    PROGRAM,
    RATIO,
    SHELL_LINE,
    SIGNAL,
    SIZE,
    STATUSES,
    TEXTFILE,
    UMASK,
    URL,
    USER,
    WEBHOOK_URL,
    WINDOW,
    Group,
    Key,
    Required,
    choice,
    optional,
    whole,
)
from watchdog.config.remedies import LEVEL, PATH
from watchdog.config.remedies import SIGNAL as REMEDY_SIGNAL

# What a reload does; the truth is in the runtime's reconfigure and the controller's reload.
AT_ONCE = "at once"
PROBES_AGAIN = "at once: probing starts over"
RESTARTS = "restarts the app"
RENAMES = "restarts the app; the logs, state file and lock take the new name"
REFUSED = "refused: restart the watchdog"
REOPENS = "at once: the log files are reopened"
NEXT_SAMPLE = "from the next sample"
NEXT_SNAPSHOT = "from the next snapshot"
HIDDEN = "A secret: never logged or shown, nor escaped or percent-encoded in an error"
SUSTAIN = "critical this long restarts the child (throttled)"
NEXT_VALUE = "from the next value measured"


def _remedy(metric: str) -> tuple[Group | Key, ...]:
    """A remedy's keys; memory's say it all, the others' refer to them."""
    group = f"remedies.{metric}"
    docs = {
        "level": f"`warning` or `critical`: resources.{metric} at this level or above calls for"
        " the remedy; `null`: none",
        "signal": "`HUP`, `USR1`, `USR2`, `TTIN`, `TTOU` or `WINCH`: sent to the app's main"
        " process (the one the watchdog started) alone. The app must handle it: unhandled,"
        " HUP, USR1 and USR2 end a process, TTIN and TTOU stop it",
        "post": "e.g. `/admin/cleanup`: POSTed, with no body, to `health.url`'s own scheme, host"
        " and port (a loopback one); a 2xx answer is done, a redirect is not followed. One of"
        " `signal` or `post`",
        "cooldown": "at most one remedy per this",
        "settle": "the remedy is judged on the first value measured this long after it was"
        " delivered: it worked if that is below that level's threshold; at most `cooldown`",
    }
    if metric != "memory":
        docs = {name: f"as `remedies.memory.{name}`, for resources.{metric}" for name in docs}
    return (
        Group(group, f"the remedy asked of the app when resources.{metric} reaches a level"),
        Key(f"{group}.level", LEVEL, None, NEXT_VALUE, docs["level"]),
        Key(f"{group}.signal", REMEDY_SIGNAL, None, NEXT_VALUE, docs["signal"]),
        Key(f"{group}.post", PATH, None, NEXT_VALUE, docs["post"]),
        Key(f"{group}.cooldown", DURATION, "10m", NEXT_VALUE, docs["cooldown"]),
        Key(f"{group}.settle", DURATION, "30s", NEXT_VALUE, docs["settle"]),
    )


SCHEMA: tuple[Group | Key, ...] = (
    Group("app", "what to start, where, with what environment, and how to stop it"),
    Key("app.name", NAME, "api", RENAMES,
        "used in log file names and events; letters, digits, `_ . -`"),
    Key("app.command", COMMAND,
        Required("the command that starts the API, e.g. [uvicorn, app.main:app]"), RESTARTS,
        "a list of arguments, or a string split like a shell would (shlex) but never run by one."
        " `{python}` is replaced by the interpreter running the watchdog. The program must exist"
        " and be executable: a name with a `/` relative to `app.cwd`, a bare name on `app.env`'s"
        " `PATH` if it sets one, else on the inherited one (not checked with `shell: true`)",
        switch=("shell", SHELL_LINE)),
    Key("app.cwd", DIRECTORY, ".", RESTARTS, "working directory of the child; must exist"),
    Key("app.env", ENV, {}, RESTARTS,
        "added to the inherited environment (string or number values); the values are secrets,"
        " shown as `<redacted>`", secret=True),
    Key("app.env_file", ENV_FILE, None, RESTARTS + "; the file itself is read at every start",
        "e.g. `/etc/api/env`: variables read from this file (systemd `EnvironmentFile=` syntax:"
        " `NAME=value` lines, `#`/`;` comments, optional quotes) at every start of the app, so an"
        " edited file applies from its next restart; `app.env` wins over it. `check` fails if it"
        " is missing or has a bad line (named by its number); the values are secrets, never"
        " shown"),
    Key("app.user", USER, None, RESTARTS,
        "e.g. `api` or `1000`: the app and its whole tree run as this user, with its groups;"
        " another user than the watchdog's own needs the watchdog to run as root. `null` = the"
        " watchdog's user. The watchdog's logs and state stay its own (0640, 0750)"),
    Key("app.group", GROUP, None, RESTARTS,
        "e.g. `api`: the group the app runs as; `null` = `app.user`'s primary group (or the"
        " watchdog's); another group than the watchdog's needs root"),
    Key("app.umask", UMASK, None, RESTARTS,
        "e.g. `\"027\"` (quoted: YAML reads a bare 027 as the number 23): the app starts with"
        " this file mode mask; `null` = the watchdog's"),
    Key("app.shell", FLAG, False, RESTARTS, "`true`: `command` is one string run by `/bin/sh -c`"),
    Key("app.stop_signal", SIGNAL, "TERM", RESTARTS,
        "sent to the child's process group to stop it"),
    Key("app.stop_timeout", DURATION, "10s", RESTARTS,
        "stop signal → wait this long → SIGKILL to the whole tree"),
    Key("app.listen", LISTEN, None, REFUSED,
        "`host:port`, `[v6]:port`, `unix:/path` or `systemd`: the watchdog holds this listening"
        " socket and passes it to every child as fd 3 (`{fd}` in the command); see"
        " [zero-downtime restarts](../guides/zero-downtime.md)"),
    Key("app.listen_backlog", whole(1, "connections"), 2048,
        "restarts the app; refused while app.listen holds the socket: restart the watchdog",
        "connections the kernel queues while no child accepts (capped by `net.core.somaxconn`)"),
    Group("health", "the health probe: GET (or HEAD) health.url every interval"),
    Key("health.url", URL, "http://127.0.0.1:8000/health", PROBES_AGAIN,
        "http(s) URL probed with `method`", flag="--url"),
    Key("health.method", choice("GET", "HEAD"), "GET", PROBES_AGAIN,
        "`GET` or `HEAD` (no body is read: no `expect_body`)"),
    Key("health.headers", HEADERS, {}, PROBES_AGAIN,
        "e.g. `{Authorization: \"Bearer ...\"}`: sent with every probe; names are HTTP tokens,"
        " values visible ASCII. The values are secrets: never logged, shown or quoted in an"
        " error, even one the app echoes back", secret=True),
    Key("health.interval", DURATION, "60s", PROBES_AGAIN,
        "time between probes (guide: every minute)", flag="--interval"),
    Key("health.timeout", DURATION, "5s", PROBES_AGAIN,
        "a probe with no complete answer by then fails; must be less than `interval`",
        flag="--timeout"),
    Key("health.max_failures", whole(1), 3, PROBES_AGAIN,
        "consecutive failed probes that trip a restart", flag="--max-failures"),
    Key("health.startup_timeout", DURATION, "60s", PROBES_AGAIN,
        "a fresh child must answer healthy within this"),
    Key("health.startup_interval", DURATION, "100ms", PROBES_AGAIN,
        "probe pace until the first healthy answer"),
    Key("health.expect_status", STATUSES, [200], PROBES_AGAIN,
        "statuses that count as healthy; redirects are followed (up to 5) only to the same"
        " scheme, host and port"),
    Key("health.expect_body", EXPECT_BODY, None, PROBES_AGAIN,
        "e.g. `ok`: the body (its first 64 KB) must contain this text; or e.g. `{status: ok}`:"
        " the body must be a JSON object whose top-level keys hold these values (`\"ok\"`"
        " and `true` differ). Else the probe fails, saying what came; `null` = any body"),
    Group("restart", "when and how the child is restarted"),
    Key("restart.min_interval", DURATION, "5m", AT_ONCE,
        "at most one watchdog-initiated restart of a live child per this interval"),
    Key("restart.backoff_initial", DURATION, "1s", AT_ONCE,
        "delay before the 2nd consecutive crash restart; doubles each time"),
    Key("restart.backoff_max", DURATION, "60s", AT_ONCE, "the longest delay"),
    Key("restart.backoff_reset", DURATION, "60s", AT_ONCE,
        "a child healthy this long makes its next crash count as a first one again"),
    Group("restart.crash_loop", "crashes that come too fast"),
    Key("restart.crash_loop.max_crashes", whole(1), 5, AT_ONCE,
        "crashes (and failed starts) ..."),
    Key("restart.crash_loop.window", DURATION, "10m", AT_ONCE,
        "... within this window make a crash loop"),
    Key("restart.crash_loop.action", choice("exit", "keep_trying"), "exit", AT_ONCE,
        "`exit` (code 3, so systemd sees it) or `keep_trying` (every `backoff_max`)"),
    Key("restart.predictive", FLAG, False, AT_ONCE,
        "restart before memory turns critical, from the leak forecast (throttled)"),
    Key("restart.predictive_horizon", DURATION, "30m", AT_ONCE,
        "... when critical is forecast within this"),
    Key("restart.strategy", choice("stop_start", "overlap"), "stop_start", "from the next restart",
        "`overlap` (needs `app.listen`): start the new child first, stop the old one once the"
        " new one accepts"),
    Key("restart.method", choice("stop", "signal"), "stop", "from the next restart",
        "`signal`: restart an app whose master replaces its own workers (gunicorn) by sending"
        " it `reload_signal`, confirmed by only new workers and a healthy answer; else `strategy`"),
    Key("restart.reload_signal", SIGNAL, "HUP", "from the next restart",
        "with `method: signal`: what the app's main process is sent"),
    Key("restart.max_uptime", optional(DURATION), None, "plans the current child's restart anew",
        "e.g. `24h`: a child this old is restarted, planned (`restart_planned`); `null` = never"),
    Key("restart.max_uptime_jitter", optional(DURATION), None,
        "plans the current child's restart anew",
        "e.g. `1h`: each child's max_uptime is longer by a random part of this, so that many"
        " instances do not restart at once"),
    Key("restart.window", optional(WINDOW), None, "from the next planned restart",
        "e.g. `\"03:00-05:00\"` (host local time, may wrap midnight): a planned restart waits"
        " for it; `null` = any time"),
    Group("logging", "the watchdog's log files; the terminal gets a readable line per event"),
    Key("logging.dir", DIRECTORY, "logs", "at once: the log files are reopened there",
        "created 0750 if missing; `run` refuses to start if it cannot write there"),
    Key("logging.level", choice("debug", "info", "warning", "error"), "info", REOPENS,
        "`debug`, `info`, `warning` or `error`; `debug` also logs the startup window's refused"
        " probes and reaped orphans"),
    Key("logging.max_bytes", SIZE, "10MB", REOPENS, "rotate the log file at this size"),
    Key("logging.backup_count", whole(0), 5, REOPENS, "rotated files kept"),
    Key("logging.retention_days", whole(1, "days"), 30, "at the next clean-up (daily)",
        "rotated files older than this are deleted (start-up, daily, `watchdog logs clean`)"),
    Key("logging.format", choice("json", "logfmt"), "json", REOPENS,
        "`json` (one object per line) or `logfmt`, for the files"),
    Group("resources", "psutil samples of the child's whole process tree and of the host"),
    Key("resources.interval", DURATION, "10s", NEXT_SAMPLE, "time between samples"),
    Key("resources.history_size", whole(1, "samples"), 100, AT_ONCE,
        "samples kept in `<name>_history.json` for `watchdog status`"),
    # Memory gets a shorter sustain than CPU: memory that stays critical tends to end in the
    # kernel's OOM kill within minutes, a SIGKILL with no graceful stop at all.
    Group("resources.memory", "the child tree's RSS, % of the memory limit (cgroup or host)"),
    Key("resources.memory.warning", PERCENT, 80, NEXT_SAMPLE,
        "% of the memory limit (every percentage may be written `85` or `\"85%\"`)"),
    Key("resources.memory.critical", PERCENT, 90, NEXT_SAMPLE,
        "% of the memory limit; critical for `sustain` restarts the child"),
    Key("resources.memory.sustain", DURATION, "1m", NEXT_SAMPLE, SUSTAIN),
    Key("resources.memory.max_rss", CAP, None, "at the next RSS check",
        "e.g. `1.5GB`: crossing it restarts at once"),
    # The cap is checked on its own, cheaply and often: a leak of 20 MB/s would overshoot a cap
    # by 200 MB if it waited for the 10 s sample.
    Key("resources.memory.cap_interval", DURATION, "100ms", "at the next RSS check",
        "with `max_rss`: the quickest pace of the RSS-only check (near the cap or growing fast;"
        " at least every second)"),
    # A pre-fork server replaces a worker that exits: the worker over its cap goes alone, its
    # master starts another, and the app never stops serving.
    Key("resources.memory.max_worker_rss", CAP, None, NEXT_SAMPLE,
        "e.g. `300MB`: a worker (each direct child of the app's main process) at or over it"
        " gets `worker_signal`, one at a time, while the app is running; see [recycling one"
        " worker](../design/rejuvenation.md#recycling-one-worker-pre-fork-servers)"),
    Key("resources.memory.worker_signal", SIGNAL, "TERM", NEXT_SAMPLE,
        "sent to that worker alone (gunicorn and uvicorn workers finish their requests on TERM)"),
    Key("resources.memory.worker_recycles_per_hour", whole(1, "workers"), 12, NEXT_SAMPLE,
        "the most workers recycled within any hour; one more due pauses recycling until the"
        " app next starts (`worker_recycling_paused`), and the whole app's rules act alone"),
    Group("resources.cpu", "the child tree's CPU"),
    Key("resources.cpu.warning", PERCENT, 85, NEXT_SAMPLE,
        "% of the machine, or of one core with `per_core: true`"),
    Key("resources.cpu.critical", PERCENT, 95, NEXT_SAMPLE,
        "% of the machine (or of one core); critical for `sustain` restarts the child"),
    Key("resources.cpu.sustain", DURATION, "5m", NEXT_SAMPLE, SUSTAIN),
    Key("resources.cpu.per_core", FLAG, False, NEXT_SAMPLE,
        "`true`: percentages of one core, not of the whole machine"),
    Group("resources.response_time", "the health probe's latency"),
    Key("resources.response_time.warning", DURATION, "2s", NEXT_SAMPLE,
        "probe latency that is a warning"),
    Key("resources.response_time.critical", DURATION, "5s", NEXT_SAMPLE,
        "probe latency that is critical (a probe that times out takes at least `health.timeout`)"),
    Key("resources.response_time.sustain", DURATION, "5m", NEXT_SAMPLE, SUSTAIN),
    Group("resources.error_rate", "failed probes among the last `window`"),
    Key("resources.error_rate.warning", PERCENT, 5, NEXT_SAMPLE,
        "% of failed probes in the window that is a warning"),
    Key("resources.error_rate.critical", PERCENT, 10, NEXT_SAMPLE,
        "% of failed probes in the window that is critical"),
    Key("resources.error_rate.sustain", DURATION, "5m", NEXT_SAMPLE, SUSTAIN),
    Key("resources.error_rate.window", whole(1, "probes"), 100, NEXT_SAMPLE,
        "probes in the window"),
    Key("resources.error_rate.min_probes", whole(1, "probes"), 20, NEXT_SAMPLE,
        "graded once this many probes are in the window"),
    Group("resources.disk", "each path's filesystem; critical cleans old logs, never restarts"),
    Key("resources.disk.paths", DISK_PATHS, [], NEXT_SAMPLE,
        "`[]` = the log directory's filesystem and `/`"),
    Key("resources.disk.warning", PERCENT, 90, NEXT_SAMPLE, "% used that is a warning"),
    Key("resources.disk.critical", PERCENT, 95, NEXT_SAMPLE,
        "% used that is critical: the log retention clean-up runs at once"),
    Group("resources.trend", "the leak forecast from the RSS history (Theil-Sen)"),
    Key("resources.trend.window", DURATION, "3h", NEXT_SAMPLE, "the RSS history used"),
    Key("resources.trend.every", DURATION, "10m", NEXT_SAMPLE, "how often the forecast runs"),
    Key("resources.trend.min_samples", whole(3, "samples"), 30, NEXT_SAMPLE,
        "the fewest samples a forecast is made from (they must fit in `window`)"),
    Key("resources.trend.min_span", DURATION, "30m", NEXT_SAMPLE,
        "the shortest history a forecast is made from (at most `window`)"),
    # A host busy with other work says nothing about the app: no say in the verdict or alerts
    # unless asked for, and levels above the app's. A build or a backup keeps a small host's
    # CPU above 90 % for minutes, so only a saturated one (98 %) is critical; with 5 % of
    # memory left the kernel reclaims and swaps hard.
    Group("resources.host", "the host's own memory and CPU, for context: a busy host is not a"
          " sick app (logged at warning at most, never restarts)"),
    Group("resources.host.memory", "the host's memory"),
    Key("resources.host.memory.warning", PERCENT, 90, NEXT_SAMPLE,
        "% of the host's memory (or of the cgroup's limit) that is a warning"),
    Key("resources.host.memory.critical", PERCENT, 95, NEXT_SAMPLE,
        "% of the host's memory (or of the cgroup's limit) that is critical"),
    Group("resources.host.cpu", "the host's CPU"),
    Key("resources.host.cpu.warning", PERCENT, 90, NEXT_SAMPLE,
        "% of the host's CPU that is a warning"),
    Key("resources.host.cpu.critical", PERCENT, 98, NEXT_SAMPLE,
        "% of the host's CPU that is critical"),
    Key("resources.host.alert", FLAG, False, NEXT_SAMPLE,
        "`true`: host levels count in `watchdog status` and alert like the app's"),
    Group("resources.degradation", "probe latency against the child's own baseline: an app that"
          " has aged, not one that is sick (the absolute response_time levels stay as they are)"),
    Key("resources.degradation.ratio", optional(RATIO), None, AT_ONCE,
        "e.g. `3`: a rolling median of this many times the baseline (and at least `floor`) is a"
        " degradation, and lasting `sustain` a planned restart; `null` = measured, never acted on"),
    Key("resources.degradation.floor", DURATION, "50ms", AT_ONCE,
        "... and at least this, so that 2ms -> 6ms is no degradation"),
    Key("resources.degradation.sustain", DURATION, "10m", AT_ONCE,
        "degraded this long: a planned restart (in restart.window, unless response_time is"
        " critical)"),
    Key("resources.degradation.warmup", DURATION, "1m", "from the next child",
        "after a child's first healthy answer, its answers this long are not its baseline"),
    Key("resources.degradation.probes", whole(5, "probes"), 30, "from the next child",
        "good answers after the warm-up that make the baseline (median and p90)"),
    Key("resources.degradation.window", whole(3, "probes"), 10, AT_ONCE,
        "the latest answers whose median is graded against the baseline"),
    Group("remedies", "a gentle action asked of the app (a signal, a POST) when a metric reaches"
          " a level, then checked; never instead of the restart rules (see"
          " [remedies](../design/rejuvenation.md#remedies-a-gentle-action-first))."
          " Off unless a `level` is set"),
    Key("remedies.timeout", DURATION, "10s", "from the next POST",
        "a POST remedy with no complete answer by then has failed"),
    *_remedy("memory"),
    *_remedy("cpu"),
    *_remedy("response_time"),
    *_remedy("error_rate"),
    Group("state", "where `watchdog status`, `restart` and `reload` find the running watchdog"),
    Key("state.dir", optional(DIRECTORY), None, "moves the state file, history and lock there",
        "where `<name>.state.json` and `<name>_history.json` live; `null` = `logging.dir`. Under"
        " systemd: `/var/lib/watchdog` (`StateDirectory=`)"),
    Group("alerts", "sent in the background; a slow receiver never delays anything"),
    Group("alerts.webhook", "POST a JSON alert: event, app, host, reason, metrics, text (Slack)",
          secret=True, when="url"),
    Key("alerts.webhook.url", WEBHOOK_URL, None, AT_ONCE,
        "e.g. `https://hooks.slack.com/services/...`; needed when any webhook key is set. "
        + HIDDEN, secret=True),
    Key("alerts.webhook.timeout", DURATION, "5s", AT_ONCE, "a POST not answered by then fails"),
    Key("alerts.webhook.headers", HEADERS, {}, AT_ONCE,
        "e.g. `{Authorization: \"Bearer ...\"}`; names are HTTP tokens, values visible ASCII"
        " (no CR, LF or other control character). The values are secrets", secret=True),
    Key("alerts.command", ARGUMENTS, None, AT_ONCE,
        "e.g. `[/usr/local/bin/page-me]`: an argument list (never a shell) run with the"
        " alert's JSON on stdin"),
    Key("alerts.command_timeout", DURATION, "10s", AT_ONCE,
        "a command still running after this is killed (its whole process group)"),
    Key("alerts.events", ALERT_EVENTS,
        ["restart", "crash", "crash_loop", "restart_recommended", "critical"], AT_ONCE,
        "which events alert; also `recovered` (healthy again after being down) and `planned`"
        " (a restart on a schedule: max_uptime, a degradation), `remedy_failed` (a remedy did not"
        " bring its metric below the level, or could not be delivered)"),
    Key("alerts.max_per_minute", whole(1), 6, AT_ONCE,
        "beyond this, alerts are dropped and counted (`alerts_dropped`)"),
    Group("metrics", "Prometheus"),
    Key("metrics.listen", METRICS_LISTEN, None, "moves the listener; every value carries on",
        "e.g. `127.0.0.1:9464`: serve `/metrics` there; an IP address, loopback only unless"
        " `allow_remote`"),
    Key("metrics.allow_remote", FLAG, False, AT_ONCE, "`true`: `listen` may be any address"),
    Key("metrics.textfile", TEXTFILE, None, "at once: the next write goes there",
        "e.g. `/var/lib/node_exporter/textfile/watchdog.prom`: write the same metrics there"
        " every 10 s for node_exporter's textfile collector"),
    Group("diagnostics", "a snapshot of the app's processes before each restart"),
    Key("diagnostics.enabled", FLAG, True, NEXT_SNAPSHOT,
        "write a diagnostic snapshot before each kill and after each crash (see [why it"
        " restarted](../guides/diagnostics.md))"),
    Key("diagnostics.timeout", DURATION, "5s", NEXT_SNAPSHOT,
        "the most a snapshot may hold up the restart; what is not read by then is noted as"
        " missing"),
    Key("diagnostics.output_lines", whole(0), 100, NEXT_SNAPSHOT,
        "the child's last output lines kept in the snapshot"),
    Key("diagnostics.keep", whole(1), 20, NEXT_SNAPSHOT, "snapshot files kept (the newest)"),
    Key("diagnostics.max_age_days", whole(1, "days"), 30, NEXT_SNAPSHOT,
        "snapshot files older than this are removed"),
    Key("diagnostics.py_spy", PROGRAM, None, NEXT_SNAPSHOT,
        "path to py-spy; `null` looks on PATH and beside the Python running the watchdog (the"
        " `diagnostics` extra)"),
    Key("diagnostics.directory", optional(DIRECTORY), None, NEXT_SNAPSHOT,
        "`null` = `<logging.dir>/diagnostics` (0750, files 0640)"),
)  # fmt: skip

ROOT = Group("", "watchdog's config")
KEYS: dict[str, Key] = {entry.path: entry for entry in SCHEMA if isinstance(entry, Key)}
GROUPS: dict[str, Group] = {
    "": ROOT,
    **{entry.path: entry for entry in SCHEMA if isinstance(entry, Group)},
}
CHILDREN: dict[str, tuple[Group | Key, ...]] = {
    path: tuple(entry for entry in SCHEMA if entry.path.rpartition(".")[0] == path)
    for path in GROUPS
}


def default(path: str, folder: Path = Path()) -> Any:
    """The default of the key at `path`, as parse gives it (paths resolved in `folder`)."""
    key = KEYS[path]
    if isinstance(key.default, Required):
        return None
    return key.kind.converter(folder)(key.default)
