"""suanli.ledger"""
