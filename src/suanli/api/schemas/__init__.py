"""Wire schemas (``*Request`` / ``*Response``): pydantic only, importable without FastAPI.

Money and rates travel as decimal strings (never floats); instants as ISO-8601 UTC.
"""
