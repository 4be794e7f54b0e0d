"""suanli.sim — trace-driven simulation of the placement engine (imports only domain,
scheduler, ledger; reads trace CSVs through :mod:`suanli.sim.traces`; returns result objects)."""
