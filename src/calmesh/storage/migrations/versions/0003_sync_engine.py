"""sync engine: per-item sync status, conflicts, scheduling and lease columns, event reminders and origin

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 15:17:11.218719
"""

from alembic import op
import sqlalchemy as sa
import calmesh.storage.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


#: Nullable JSON columns written before they stored Python None as SQL NULL (models.NULLABLE_JSON).
_JSON_NULLS = [("events", "rdates"), ("events", "exdates"), ("events", "organizer"), ("events", "conference"), ("bookings", "conference")]


def upgrade() -> None:
    for table, column in _JSON_NULLS:
        op.execute(f"UPDATE {table} SET {column} = NULL WHERE CAST({column} AS TEXT) = 'null'")
    op.create_table('sync_conflicts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('calendar_id', sa.String(length=40), nullable=False),
    sa.Column('item_id', sa.String(length=1024), nullable=True),
    sa.Column('ical_uid', sa.String(length=1024), nullable=False),
    sa.Column('policy', sa.String(length=16), nullable=False),
    sa.Column('winner', sa.String(length=8), nullable=False),
    sa.Column('local_summary', sa.Text(), nullable=True),
    sa.Column('remote_summary', sa.Text(), nullable=True),
    sa.Column('detected_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_sync_conflicts_calendar_id_calendars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_sync_conflicts_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sync_conflicts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_conflicts'))
    )
    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.create_index('ix_sync_conflicts_connection_detected', ['connection_id', 'detected_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_conflicts_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('sync_items',
    sa.Column('calendar_id', sa.String(length=40), nullable=False),
    sa.Column('item_id', sa.String(length=1024), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('ical_uid', sa.String(length=1024), nullable=False),
    sa.Column('etag', sa.String(length=256), nullable=True),
    sa.Column('remote_hash', sa.String(length=64), nullable=False),
    sa.Column('local_hash', sa.String(length=64), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_sync_items_calendar_id_calendars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sync_items_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('calendar_id', 'item_id', name=op.f('pk_sync_items')),
    sa.UniqueConstraint('calendar_id', 'ical_uid', name=op.f('uq_sync_items_calendar_id'))
    )
    with op.batch_alter_table('sync_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_items_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('calendars_refreshed_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_sync_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rate_limited_until', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('full_sync_requested', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('sync_lease_owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sync_lease_until', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failure_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_connections_next_sync_at'), ['next_sync_at'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('origin', sa.String(length=16), nullable=False, server_default='provider'))

    with op.batch_alter_table('sync_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('problems', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('sync_states', schema=None) as batch_op:
        batch_op.drop_column('problems')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('origin')
        batch_op.drop_column('reminders')

    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connections_next_sync_at'))
        batch_op.drop_column('failure_count')
        batch_op.drop_column('sync_lease_until')
        batch_op.drop_column('sync_lease_owner')
        batch_op.drop_column('full_sync_requested')
        batch_op.drop_column('rate_limited_until')
        batch_op.drop_column('next_sync_at')
        batch_op.drop_column('calendars_refreshed_at')
        batch_op.drop_column('account')

    with op.batch_alter_table('sync_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_items_tenant_id'))

    op.drop_table('sync_items')
    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_conflicts_tenant_id'))
        batch_op.drop_index('ix_sync_conflicts_connection_detected')

    op.drop_table('sync_conflicts')
