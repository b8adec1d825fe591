"""The hall manager's reports (报表): a day's and a month's figures, a clerk's monthly scorecard.

Every figure is the statistics' own (server/store/stats.py, asked through the
hub's :class:`~server.statistics.StatisticsService`): a report is several
groupings of one period, read in one transaction, laid out for people.

* :mod:`.figures` — the period asked for, the report as JSON, the clerk's scorecard;
* :mod:`.table` — the report as rows and columns, shared by every file format;
* :mod:`.csv_file`, :mod:`.xlsx_file`, :mod:`.pdf_file` — the files.
"""
