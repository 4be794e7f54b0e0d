"""Pure domain: catalog, money, prices, fleet, orders and leases. No I/O, no frameworks."""
