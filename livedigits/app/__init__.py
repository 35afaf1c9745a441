"""The applications over the runtime: the ``livedigits`` command (run loop, folder batches, display,
interrupts, output files, ``eval``) and the web app (``livedigits serve``).

Imports flow one way: these modules use the runtime (``livedigits.*``); the runtime never imports them.
"""
