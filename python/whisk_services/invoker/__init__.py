"""The invoker: runs activations in action containers."""
