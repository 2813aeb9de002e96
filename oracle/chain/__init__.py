"""Everything that reads or writes the chain: the web3 factory (retries on the provider), Multicall3, the snapshot
reader and its market adapters, contract artifacts, transactions and the governor."""
