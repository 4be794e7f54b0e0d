"""suanli (算力): lease and serve AI compute.

Layers (see ARCHITECTURE.md): pure core ``domain``, ``scheduler``, ``ledger``, ``sim``; adapters
``store``, ``drivers``; use cases in ``service``; edges ``api``, ``client``, ``cli``, ``console``.
"""

__version__ = "0.1.0"
