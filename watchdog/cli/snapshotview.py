"""A diagnostic snapshot rendered for a person: `watchdog restarts --show N`."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from watchdog.cli.timeshown import shown_stamp
from watchdog.diagnostics.procinfo import FD_KINDS

UNKNOWN = "-"  # a figure the snapshot does not hold

SAMPLES_SHOWN = 5
COMMAND_WIDTH = 60


def _mb(size: object) -> str:
    return f"{size / 2**20:.1f}MB" if isinstance(size, int | float) else UNKNOWN


def _fields(values: Mapping[str, Any]) -> str:
    shown = []
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if key == "timestamp":  # a sample's time, read the way every view shows times
            text = shown_stamp(value) or text
        shown.append(f"{key}={text}")
    return " ".join(shown)


def _command(record: Mapping[str, Any]) -> str:
    words = record.get("cmdline") or [record.get("name") or "(command unknown)"]
    text = shlex.join(str(word) for word in words)
    return text if len(text) <= COMMAND_WIDTH else text[: COMMAND_WIDTH - 3] + "..."


def _fds(record: Mapping[str, Any]) -> str:
    fds = record.get("fds")
    if not isinstance(fds, Mapping):
        return UNKNOWN
    return "/".join(str(fds.get(kind, 0)) for kind in FD_KINDS)


def _cpu(record: Mapping[str, Any]) -> str:
    times = record.get("cpu_times")
    if not isinstance(times, Mapping):
        return UNKNOWN
    return f"{times.get('user', 0):.2f}/{times.get('system', 0):.2f}"


def _process_table(processes: list[Mapping[str, Any]]) -> list[str]:
    header = (
        f"  {'PID':>7} {'PPID':>7} {'STATUS':<9} {'RSS':>9} {'USS':>9} {'THR':>4}"
        f" {'FDS s/p/f/a/o':<15} {'CPU u/s':<11} COMMAND"
    )
    lines = [header]
    for record in processes:
        pid, ppid, status, threads = (
            _known(record.get(key)) for key in ("pid", "ppid", "status", "threads")
        )
        lines.append(
            f"  {pid:>7} {ppid:>7} {status:<9} {_mb(record.get('rss')):>9}"
            f" {_mb(record.get('uss')):>9} {threads:>4}"
            f" {_fds(record):<15} {_cpu(record):<11} {_command(record)}"
        )
    return lines


def _known(value: object) -> str:
    return UNKNOWN if value is None else str(value)


def _connections(processes: list[Mapping[str, Any]]) -> list[str]:
    lines = []
    for record in processes:
        states = record.get("connections")
        if isinstance(states, Mapping) and states:
            shown = ", ".join(f"{state} {count}" for state, count in states.items())
            lines.append(f"  {record.get('pid')}: {shown}")
    return lines or ["  (none)"]


def _stacks(processes: list[Mapping[str, Any]]) -> list[str]:
    lines = []
    for record in processes:
        if not record.get("python"):
            continue
        lines += ["", f"Stacks of {record.get('pid')} ({_command(record)}):"]
        stacks = record.get("stacks")
        if not stacks:
            lines.append("  (none taken: see the notes)")
            continue
        # py-spy's header repeats the command line and version: the table has them.
        body = str(stacks).split("\n\n", 1)[-1].rstrip("\n")
        lines += [f"  {line}" for line in body.split("\n")]
    return lines


def render_snapshot(snapshot: Mapping[str, Any]) -> list[str]:
    """The snapshot as text: facts first, then processes, stacks, output and history."""
    complete = "complete" if snapshot.get("complete") else "INCOMPLETE"
    when = shown_stamp(snapshot.get("time")) or "an unknown time"
    took = snapshot.get("took")
    lines = [
        f"snapshot of {snapshot.get('app') or 'the app'} at {when}",
        f"reason:  {snapshot.get('reason') or 'not recorded'}",
        f"took:    {UNKNOWN if took is None else took} s, {complete}",
    ]
    exit_info = snapshot.get("exit_info")
    if isinstance(exit_info, Mapping):
        lines.append(f"exit:    {exit_info.get('description') or _fields(exit_info)}")
    notes = snapshot.get("notes") or []
    lines += [f"note:    {note}" for note in notes]
    processes = [p for p in snapshot.get("processes") or [] if isinstance(p, Mapping)]
    lines += ["", f"Processes ({len(processes)}):", *_process_table(processes)]
    lines += ["", "Connections by state:", *_connections(processes)]
    lines += _stacks(processes)
    tail = snapshot.get("output_tail") or []
    lines += ["", f"Last output ({len(tail)} lines):", *[f"  {line}" for line in tail]]
    levels = snapshot.get("levels")
    if isinstance(levels, Mapping) and levels:
        lines += ["", "Levels:", *[f"  {_level(name, item)}" for name, item in levels.items()]]
    trend = snapshot.get("trend")
    if isinstance(trend, Mapping) and trend:
        lines += ["", f"Memory trend: {_fields(trend)}"]
    history = [item for item in snapshot.get("history") or [] if isinstance(item, Mapping)]
    if history:
        shown = history[-SAMPLES_SHOWN:]
        lines += ["", f"Last samples ({len(shown)} of {len(history)}):"]
        lines += [f"  {_fields(item)}" for item in shown]
    return lines


def _level(metric: str, item: object) -> str:
    """`memory normal 0.1%`: the state file's {level, value} as `watchdog status` shows it."""
    if not isinstance(item, Mapping):
        return f"{metric} {item}"
    value = item.get("value")
    if isinstance(value, int | float):
        shown = f"{value:.2f}s" if metric == "response_time" else f"{value:.1f}%"
    else:
        shown = "-"
    return f"{metric:<24} {item.get('level') or UNKNOWN:<9} {shown}"
