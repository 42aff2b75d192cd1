"""Runs scikit-learn's own MLP tests against nncore.sklearn.

Copies sklearn/neural_network/tests/test_mlp.py from the INSTALLED
scikit-learn into a temporary folder (nothing of scikit-learn's is kept in
this repository), runs it once as it is and once with its import of
MLPClassifier/MLPRegressor pointed at nncore.sklearn, and prints both counts,
the share of scikit-learn's passing tests that pass for nncore, and each test
that passes for scikit-learn but not for nncore.

    python scripts/run_sklearn_mlp_tests.py [--min-share 0.9] [pytest args...]

Exits 1 when the share is below --min-share.
"""

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

import sklearn.neural_network

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
OURS = "from nncore.sklearn import MLPClassifier, MLPRegressor"


def outcomes(test_file, extra):
    """{test id: outcome} of one pytest run (from its -rA summary)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-W",
         "ignore::DeprecationWarning", str(test_file), *extra],
        cwd=test_file.parent, capture_output=True, text=True,
    )  # fmt: skip
    found = {}
    for line in result.stdout.splitlines():
        match = re.match(r"(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)", line)
        if match:
            found[match.group(2).split("::", 1)[-1]] = match.group(1)
    if not found:
        sys.exit(f"pytest found no tests:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-share", type=float, default=0.9)
    args, extra = parser.parse_known_args()
    source = pathlib.Path(sklearn.neural_network.__file__).parent / "tests" / "test_mlp.py"
    text = source.read_text()
    if IMPORT not in text:
        sys.exit(f"{source} no longer imports the estimators as expected: {IMPORT!r}")
    with tempfile.TemporaryDirectory() as folder:
        original = pathlib.Path(folder) / "sklearn_mlp" / "test_mlp.py"
        ported = pathlib.Path(folder) / "nncore_mlp" / "test_mlp.py"
        for path, content in ((original, text), (ported, text.replace(IMPORT, OURS))):
            path.parent.mkdir()
            path.write_text(content)
        reference = outcomes(original, extra)
        ours = outcomes(ported, extra)
    passing = sorted(t for t, o in reference.items() if o == "PASSED")
    failing = [t for t in passing if ours.get(t) != "PASSED"]
    share = (len(passing) - len(failing)) / len(passing)
    print(f"scikit-learn {sklearn.__version__}: {len(passing)} of {len(reference)} tests pass")
    print(f"nncore.sklearn: {len(passing) - len(failing)} of those pass ({share:.1%})")
    for test in failing:
        print(f"  {ours.get(test, 'MISSING')}: {test}")
    return 0 if share >= args.min_share else 1


if __name__ == "__main__":
    sys.exit(main())
