"""The ``threadline`` command: ``serve``, and the data commands that read the API.

main.py            the command group and ``serve``
client.py          where data commands read from: a server's API (--url) or a database (--data-dir)
options.py         shared options: time windows, the session list's filters
render.py          how results print: tables, JSON, short human forms of values
sessions.py, users.py, analytics.py, export.py (+ export_formats.py)   the data commands
"""
