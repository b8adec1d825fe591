"""Device drivers: printers, LED displays, voice; their transports and virtual twins.

Nothing here imports from ``server/``: the hub hands drivers plain data.
"""
