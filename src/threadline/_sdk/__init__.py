"""The SDK's private inside; the public face is ``threadline/__init__.py``.

Modules, one job each: ``settings`` (the settings table), ``guard`` (never raise into the host),
``ids`` (session ids, user id hashing, clocks), ``scope`` (the session / conversation / turn context),
``registry`` (per-session turn counters and open turns), ``pipeline`` (span processors and the
exporter wrapper), ``runtime`` (configure, flush, shutdown, fork and exit hooks), ``spans`` (the
handle base class), ``turn``, ``calls`` (LLM, tool and agent spans), ``sessions``, ``events``
(session events, context window, journeys, feedback), ``observe``, ``send_run``, ``watchdog``
(turn timeouts) and ``content`` (text and message formatting).
"""
