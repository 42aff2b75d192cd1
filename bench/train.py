"""Training and predict speed: nncore vs PyTorch, Keras 3 on JAX, scikit-learn and
a plain numpy MLP, measured side by side in one run (not collected by pytest).

    python bench/train.py                      # every network, 1 and 2 threads
    python bench/train.py --net mnist --threads 1
    python bench/train.py --rounds 2           # everything twice, peers taking turns; best of each

Peers are optional installs: pip install torch==2.13.0 keras jax scikit-learn.
Each measurement runs in its own process pinned to the requested cores.
"""

import sys

from nncore.benchmarks import main

if __name__ == "__main__":
    sys.exit(main())
