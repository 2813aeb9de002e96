"""Everything that touches the chain: contract artifacts, local nodes, deployment, reads."""
