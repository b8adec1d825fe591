"""``python -m server demo``: the utility-hall sample on virtual hardware, ready to click through.

Only the demo imports this package: ``main`` builds the demo's site and
serves it, ``twins`` starts the virtual printers and serial bus, ``pages`` is
the ``/demo/…`` blueprint a real hall never has.
"""
