"""defi-risk-oracle: an autonomous risk-parameter oracle for DeFi lending markets.

Data flows one way: snapshot -> features -> forecast -> risk -> recommendation -> bounded update -> transaction
-> report. See ``../shared/DESIGN.md`` (mirrored in the README) for the map.
"""

__version__ = "0.1.0"
