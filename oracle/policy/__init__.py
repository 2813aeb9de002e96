"""Risk policy: the parameter types, the on-chain bounds mirrored in Python, recommendations."""
