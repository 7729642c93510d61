"""The console entry point: user mistakes give one-line errors and exit codes, never a traceback."""

import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from nec_nlp.cli import main; sys.argv = ['nec-nlp', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "args, expected",
    [
        (("batch", "/no/such/export.csv", "/tmp/out.jsonl"), "does not exist"),  # typer path check
        (("score", "--bogus"), "No such option"),
        (("score", "Pneumonia.", "--code-set", "1999-01"), "unknown ICD-10-CM release"),  # NecNlpError
        (("evaluate", "/"), "model_card.json is missing"),
    ],
)
def test_cli_main_user_errors_have_no_traceback(args, expected):
    proc = run(*args)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_cli_main_propagates_command_exit_codes():
    assert run("code", "G40.89").returncode == 0
    assert run("code", "ZZZ.99").returncode == 1  # unknown code: scripts can test validity
    assert run("--version").returncode == 0
