# Activations, losses and optimizer steps: bindings (see kernels.py).
