"""The man page is generated from the CLI: the committed one must be what the CLI gives now."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from watchdog.cli import main
from watchdog.cli.manpage import PAGE, render


def test_the_committed_man_page_is_what_the_cli_generates() -> None:
    # On failure: python -m watchdog.cli.manpage --write
    assert PAGE.read_text(encoding="utf-8") == render(main)


def test_every_command_and_option_is_in_the_page() -> None:
    page = render(main)
    names = []
    for name, command in main.commands.items():
        names.append(name)
        if isinstance(command, click.Group):
            names += [f"{name} {sub}" for sub in command.commands]
    for name in names:
        assert f"\n.SS {name}\n" in page
    for flag in ("\\-\\-watch", "\\-\\-count", "\\-\\-verbose", "\\-\\-liveness", "\\-\\-force"):
        assert flag in page
    assert page.count("\\-\\-help") == 2  # once as an option, once in SEE ALSO


def test_the_module_prints_the_page() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "watchdog.cli.manpage"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert printed.stdout == render(main)


def test_roff_control_characters_are_escaped() -> None:
    @click.command()
    def odd() -> None:
        """.starts with a dot\n\n'and a quote, a back\\slash and a -dash."""

    group = click.Group("odd", commands={"odd": odd}, help="Odd: a test.")
    page = render(group, "odd")
    assert "\n\\&.starts with a dot\n" in page
    assert "\n\\&'and a quote, a back\\eslash and a \\-dash." in page


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_readme_documents_works(shell: str) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"_WATCHDOG_COMPLETE={shell}_source watchdog" in readme
    script = Path(sys.executable).parent / "watchdog"
    if not script.is_file():
        pytest.skip("the watchdog script is not installed beside this interpreter")
    printed = subprocess.run(
        [str(script)],
        env={**os.environ, "_WATCHDOG_COMPLETE": f"{shell}_source"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "_watchdog_completion" in printed.stdout
