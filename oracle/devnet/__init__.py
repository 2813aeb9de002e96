"""Local-chain tooling: an anvil node, deploying our contracts and seeding a market (the demo, tests, benchmarks).
Not used by the keeper on a real chain."""
