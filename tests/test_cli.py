"""The command line a newcomer meets first (issue 18, item 11)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mtlbench.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_usage_line_is_short():
    usage = build_parser().format_usage()
    assert usage.strip() == "usage: mtlbench COMMAND [ARGS ...]"
    assert "check" in build_parser().format_help()  # the commands are listed below, one a line


def test_every_argument_has_help():
    missing = {name: [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
                      if not a.help and not isinstance(a, argparse._HelpAction)]
               for name, parser in _commands().items()}
    assert {k: v for k, v in missing.items() if v} == {}


def test_readme_shows_a_target_before_the_options():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^snakemake results/\S+ --cores \d", readme, re.M)
