"""Value types every layer shares, and nothing else: risk parameters and bounds, the market snapshot, the
volatility forecast, the risk appetite, the market spec and the policy. The bottom layer: it imports no other
package of the oracle but ``oracle.errors``."""
