"""One module per placement policy; :mod:`suanli.scheduler.registry` names them."""
