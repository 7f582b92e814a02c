"""``adain study report``: the A/B study's win rates with 95% confidence intervals (Wilson)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adain.errors import AdainError

__all__ = ["add_parser", "run_report"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "study",
        help="A/B study results (the study runs in `adain serve` at /study)",
        description="Results of the A/B study recorded by `adain serve` at /study.",
    )
    commands = parser.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    report = commands.add_parser("report", help="win rate of each configuration, with 95%% Wilson confidence intervals")
    report.add_argument(
        "--db", type=Path, metavar="FILE", help="the study's SQLite file (default $ADAIN_HOME/study.sqlite)"
    )
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.set_defaults(run=run_report)
    return parser


def run_report(args: argparse.Namespace) -> int:
    from adain.server.study import StudyStore, format_report, study_report
    from adain.weights.store import adain_home

    path = args.db or adain_home() / "study.sqlite"
    if not path.is_file():
        raise AdainError(f"no study database at {str(path)!r} (run `adain serve` and answer trials at /study first)")
    import sqlite3

    try:
        report = study_report(StudyStore(path).decisions())
    except sqlite3.DatabaseError as error:
        raise AdainError(f"cannot read the study database {str(path)!r}: {error}") from None
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
