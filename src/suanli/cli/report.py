"""``suanli report …``: the operator's business figures (economics, capacity, energy), as tables or --json.

Each report's command lives in its own module and is added to :data:`app` here.
"""

from __future__ import annotations

import typer

from suanli.cli.report_capacity import capacity, energy
from suanli.cli.report_economics import economics, revenue
from suanli.cli.report_overview import overview

app = typer.Typer(help="Business reports (operator): utilisation, idle and fragmented capacity, energy, revenue, "
                       "margin, payback.\n\nTables for people; --json (exact decimal strings) for scripts.",
                  no_args_is_help=True)
app.command("overview")(overview)
app.command("capacity")(capacity)
app.command("energy")(energy)
app.command("economics")(economics)
app.command("revenue")(revenue)
