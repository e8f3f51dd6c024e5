"""The web wing: server-rendered pages on the same port as the API.

templating.py   the Jinja2 environment (autoescaped), its filters, and page responses with their headers
reference.py    /docs: the API reference, rendered from the OpenAPI document (no external assets)
templates/      one base layout, one template per page
static/         the stylesheet and scripts the pages use, shipped in the package
"""
