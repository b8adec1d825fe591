"""The company view (issue 15): many halls' event logs in one central PostgreSQL, read across halls.

Each hall's hub ships its log through an outbox (server/outbox.py) to the central
service's ingest endpoint (``python -m server central run``); the central service
keeps every hall's rows beside a ``hall_id``, shows every hall live, serves the
hall manager's reports across halls (the hall's own SQL, server/store/stats.py,
over these tables), and hands config templates to halls when they next call in.
The central service only reads what halls ship: a hall never waits for it.
"""
