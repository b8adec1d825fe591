"""queue counts kept by triggers, and the callable-tickets index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

``queue_counts`` holds how many callable tickets (waiting or transferred) each
service has per priority and business day. Triggers on ``tickets`` keep it, so
no write path of the hub (or a repair by hand in SQL) can let it drift; the
rows are filled from the tickets already there. ``ix_tickets_callable`` is a
partial index over the callable tickets in queue order.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CALLABLE = "('waiting', 'transferred')"

SQLITE_TRIGGERS = [
    # An upsert inside a trigger: the SELECT's WHERE is what SQLite's parser needs to tell
    # the ON CONFLICT clause from a join (https://sqlite.org/lang_upsert.html).
    f"""
    CREATE TRIGGER tr_queue_counts_insert AFTER INSERT ON tickets
    WHEN NEW.status IN {CALLABLE}
    BEGIN
        INSERT INTO queue_counts (business_day, service, priority, waiting)
        SELECT NEW.business_day, NEW.service, NEW.priority, 1 WHERE true
        ON CONFLICT (business_day, service, priority) DO UPDATE SET waiting = waiting + 1;
    END
    """,
    f"""
    CREATE TRIGGER tr_queue_counts_update AFTER UPDATE OF status, service, priority, business_day ON tickets
    WHEN OLD.status IN {CALLABLE} OR NEW.status IN {CALLABLE}
    BEGIN
        UPDATE queue_counts SET waiting = waiting - 1
        WHERE OLD.status IN {CALLABLE} AND business_day = OLD.business_day
          AND service = OLD.service AND priority = OLD.priority;
        INSERT INTO queue_counts (business_day, service, priority, waiting)
        SELECT NEW.business_day, NEW.service, NEW.priority, 1 WHERE NEW.status IN {CALLABLE}
        ON CONFLICT (business_day, service, priority) DO UPDATE SET waiting = waiting + 1;
    END
    """,
    f"""
    CREATE TRIGGER tr_queue_counts_delete AFTER DELETE ON tickets
    WHEN OLD.status IN {CALLABLE}
    BEGIN
        UPDATE queue_counts SET waiting = waiting - 1
        WHERE business_day = OLD.business_day AND service = OLD.service AND priority = OLD.priority;
    END
    """,
]

POSTGRES_TRIGGER = [
    f"""
    CREATE FUNCTION qcall_queue_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN {CALLABLE} THEN
            UPDATE queue_counts SET waiting = waiting - 1
            WHERE business_day = OLD.business_day AND service = OLD.service AND priority = OLD.priority;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN {CALLABLE} THEN
            INSERT INTO queue_counts (business_day, service, priority, waiting)
            VALUES (NEW.business_day, NEW.service, NEW.priority, 1)
            ON CONFLICT (business_day, service, priority) DO UPDATE SET waiting = queue_counts.waiting + 1;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tr_queue_counts AFTER INSERT OR DELETE OR UPDATE OF status, service, priority, business_day
    ON tickets FOR EACH ROW EXECUTE FUNCTION qcall_queue_counts()
    """,
]


def upgrade() -> None:
    op.create_table('queue_counts',
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('waiting', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('business_day', 'service', 'priority')
    )
    op.create_index(
        'ix_tickets_callable',
        'tickets',
        ['business_day', 'service', sa.text('priority DESC'), 'queue_at', 'seq'],
        unique=False,
        sqlite_where=sa.text(f"status IN {CALLABLE}"),
        postgresql_where=sa.text(f"status IN {CALLABLE}"),
    )
    triggers = POSTGRES_TRIGGER if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)
    op.execute(
        "INSERT INTO queue_counts (business_day, service, priority, waiting) "
        f"SELECT business_day, service, priority, count(*) FROM tickets WHERE status IN {CALLABLE} "
        "GROUP BY business_day, service, priority"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER tr_queue_counts ON tickets")
        op.execute("DROP FUNCTION qcall_queue_counts()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER tr_queue_counts_{name}")
    op.drop_index('ix_tickets_callable', table_name='tickets')
    op.drop_table('queue_counts')
