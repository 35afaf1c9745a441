"""The README's quick start works in order on a fresh machine (issue 14, item 23): the second
command installs what the tests need before running them."""
import re

from conftest import ROOT


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", readme, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_quick_start_has_two_commands_install_and_run_then_test():
    first, second = quick_start_commands()
    assert "pip install -r requirements.txt" in first and "livedigits samples/" in first
    install, _, run = second.partition("&&")
    assert "requirements-dev.txt" in install and "requirements-train.txt" in install
    assert "pytest" in run and run.index("pytest") > 0


def test_test_requirements_hold_what_the_tests_import():
    dev = (ROOT / "requirements-dev.txt").read_text()
    train = (ROOT / "requirements-train.txt").read_text()
    for package in ("pytest", "hypothesis", "selenium"):
        assert re.search(rf"^{package}\b", dev, re.M), package
    assert re.search(r"^tensorflow", train, re.M) and re.search(r"^matplotlib", train, re.M)
