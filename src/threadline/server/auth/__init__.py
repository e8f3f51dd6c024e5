"""Who is asking, and what they may do: projects, API keys, web sessions, and the checks every request
goes through.

    keys.py         the key format, generation and hashing (pure)
    secret.py       the server's secret: from the settings or a file in the data folder
    sessions.py     signed web-session cookies (pure)
    access.py       the principal of a request, route access levels, and the FastAPI dependencies
    guard.py        the ASGI middleware: Host check, credentials, failed-attempt limiting
    admin.py        creating projects and keys, shared by the CLI and the API
"""
