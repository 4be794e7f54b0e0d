"""suanli.ledger: pure money.

- :mod:`~suanli.ledger.meters`: usage events (CloudEvents-shaped) -> validated usage records per meter;
- :mod:`~suanli.ledger.rating`: usage x price plans x list prices -> charge lines (one rounding per line);
- :mod:`~suanli.ledger.packages`, :mod:`~suanli.ledger.vouchers`, :mod:`~suanli.ledger.wallets`:
  what pays a charge, in order: packages (quantity), vouchers (算力券), operator credits, wallet cash;
- :mod:`~suanli.ledger.postings`: double-entry entries (each sums to zero) and balances as folds;
- :mod:`~suanli.ledger.invoices`: an invoice, its ledger entries, credit notes;
- :mod:`~suanli.ledger.revenue`: supplier share (>= floor) and operator commission.

No I/O here; the service layer loads inputs, calls these functions and stores what they return.
"""
