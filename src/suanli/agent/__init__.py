"""The node agent (``suanli agent run``): runs a node's leases and jobs where its devices are.

Layer: imports :mod:`suanli.drivers`, :mod:`suanli.domain` and :mod:`suanli.client` only (never
store, service or api): it talks to the server over HTTP like any client. See docs/agents.md,
"The agent on a node".
"""
