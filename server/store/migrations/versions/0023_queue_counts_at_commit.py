"""queue counts kept at commit on PostgreSQL: calls on several hub processes no longer queue on one row

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01

``queue_counts`` (0006) has one row per business day, service and priority,
and a trigger on ``tickets`` moves it for every ticket that joins or leaves the
queue. Each call of a service's ticket therefore updates the *same* row, and
PostgreSQL held that row's lock from the call's claim to its commit: ten
counters on three hub processes calling one service took their turns on it, a
whole call transaction each (bench/README.md, "cluster_calls.py --http").

Here the trigger becomes a constraint trigger, ``DEFERRABLE INITIALLY
DEFERRED``: it does the same work with the same rows' old and new values, but
when the transaction commits, so the count row is locked only for the commit
itself. The counts a committed transaction leaves are the same; only a
transaction that reads the counts after changing tickets itself would see
them before its own change (none does: the issue reads them before it
inserts). SQLite is left as it is: its writers take the database's one lock
anyway.
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

EVENTS = "AFTER INSERT OR DELETE OR UPDATE OF status, service, priority, business_day ON tickets"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER tr_queue_counts ON tickets")
    op.execute(
        f"CREATE CONSTRAINT TRIGGER tr_queue_counts {EVENTS} DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW EXECUTE FUNCTION qcall_queue_counts()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER tr_queue_counts ON tickets")
    op.execute(f"CREATE TRIGGER tr_queue_counts {EVENTS} FOR EACH ROW EXECUTE FUNCTION qcall_queue_counts()")
