"""The wheel matrix: `cibuildwheel --print-build-identifiers` on the project's
configuration lists exactly the wheels the project promises, so it cannot
shrink (or grow) unnoticed. cibuildwheel is in the test extra, so CI runs this;
it runs without Docker and without building anything."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PYTHONS = ["cp311", "cp312", "cp313", "cp314", "cp315", "cp314t", "cp315t"]
PLATFORMS = {
    "linux": ["manylinux_x86_64", "manylinux_aarch64", "musllinux_x86_64"],
    "macos": ["macosx_x86_64", "macosx_arm64"],
    "windows": ["win_amd64"],
}


def build_identifiers(platform):
    # CIBW_* variables of a surrounding cibuildwheel run (CIBW_ARCHS=native in the
    # workflow) would narrow the answer to that runner: the configuration alone counts.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    result = subprocess.run(
        [sys.executable, "-m", "cibuildwheel", "--print-build-identifiers"]
        + ["--platform", platform, str(PROJECT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_wheel_matrix(platform):
    pytest.importorskip("cibuildwheel", reason="cibuildwheel is in the test extra")
    if not (PROJECT / "pyproject.toml").is_file():
        pytest.skip("needs the project's pyproject.toml next to tests/")
    expected = {f"{py}-{plat}" for py in PYTHONS for plat in PLATFORMS[platform]}
    assert build_identifiers(platform) == expected


def test_workflow_has_a_runner_per_architecture():
    workflow = PROJECT / ".github" / "workflows" / "wheels.yml"
    if not workflow.is_file():
        pytest.skip("needs the project's .github folder next to tests/")
    text = workflow.read_text()
    # native runners: x86_64 and aarch64 Linux, Intel and Apple-silicon macOS, Windows x64
    for runner in [
        "ubuntu-latest",
        "ubuntu-24.04-arm",
        "macos-15-intel",
        "macos-14",
        "windows-latest",
    ]:
        assert runner in text, runner
    assert "pypa/gh-action-pypi-publish" in text and "id-token: write" in text
