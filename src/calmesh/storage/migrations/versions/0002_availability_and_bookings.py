"""availability and bookings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 14:28:00.916422
"""

from alembic import op
import sqlalchemy as sa
import calmesh.storage.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_types',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('location', sa.JSON(), nullable=False),
    sa.Column('schedule', sa.JSON(), nullable=False),
    sa.Column('buffer_before_minutes', sa.Integer(), nullable=False),
    sa.Column('buffer_after_minutes', sa.Integer(), nullable=False),
    sa.Column('minimum_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('booking_window_days', sa.Integer(), nullable=False),
    sa.Column('daily_limit', sa.Integer(), nullable=True),
    sa.Column('slot_interval_minutes', sa.Integer(), nullable=True),
    sa.Column('host_policy', sa.String(length=8), nullable=False),
    sa.Column('required_hosts', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_event_types_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_types')),
    sa.UniqueConstraint('tenant_id', 'slug', name=op.f('uq_event_types_tenant_id'))
    )
    with op.batch_alter_table('event_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_types_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('bookings',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('event_type_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('start_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attendee_name', sa.String(length=200), nullable=False),
    sa.Column('attendee_email', sa.String(length=320), nullable=False),
    sa.Column('attendee_time_zone', sa.String(length=64), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('cancelled_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancellation_reason', sa.Text(), nullable=True),
    sa.Column('host_ids', sa.JSON(), nullable=False),
    sa.Column('conference', sa.JSON(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_type_id'], ['event_types.id'], name=op.f('fk_bookings_event_type_id_event_types'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_bookings_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index('ix_bookings_event_type_start', ['event_type_id', 'start_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_bookings_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('event_type_hosts',
    sa.Column('event_type_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_type_id'], ['event_types.id'], name=op.f('fk_event_type_hosts_event_type_id_event_types'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_event_type_hosts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_type_hosts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_type_id', 'user_id', name=op.f('pk_event_type_hosts'))
    )
    with op.batch_alter_table('event_type_hosts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_type_hosts_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_type_hosts_user_id'), ['user_id'], unique=False)

    op.create_table('host_locks',
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('bookings_made', sa.Integer(), nullable=False),
    sa.Column('last_booked_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_host_locks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_host_locks'))
    )
    op.create_table('host_reservations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('booking_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('blocked_start_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('blocked_end_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_host_reservations_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_host_reservations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_host_reservations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_host_reservations'))
    )
    with op.batch_alter_table('host_reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_host_reservations_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_host_reservations_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_host_reservations_user_start', ['user_id', 'blocked_start_at'], unique=False)

    op.create_table('busy_blocks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('calendar_id', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('ical_uid', sa.String(length=1024), nullable=False),
    sa.Column('start_ts', sa.BigInteger(), nullable=False),
    sa.Column('end_ts', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_busy_blocks_calendar_id_calendars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_busy_blocks_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_busy_blocks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_busy_blocks'))
    )
    with op.batch_alter_table('busy_blocks', schema=None) as batch_op:
        batch_op.create_index('ix_busy_blocks_calendar_start', ['calendar_id', 'start_ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_busy_blocks_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_busy_blocks_series', ['calendar_id', 'ical_uid'], unique=False)
        batch_op.create_index(batch_op.f('ix_busy_blocks_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('busy_indexed_from', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('busy_indexed_until', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # The database itself refuses two overlapping active reservations of one host: a race
        # between two booking requests cannot produce a double booking, whatever the code does.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE host_reservations ADD CONSTRAINT ex_host_reservations_no_overlap "
            "EXCLUDE USING gist (user_id WITH =, tstzrange(blocked_start_at, blocked_end_at, '[)') WITH &&) "
            "WHERE (active)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE host_reservations DROP CONSTRAINT ex_host_reservations_no_overlap")
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.drop_column('busy_indexed_until')
        batch_op.drop_column('busy_indexed_from')

    with op.batch_alter_table('busy_blocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_busy_blocks_tenant_id'))
        batch_op.drop_index('ix_busy_blocks_series')
        batch_op.drop_index(batch_op.f('ix_busy_blocks_event_id'))
        batch_op.drop_index('ix_busy_blocks_calendar_start')

    op.drop_table('busy_blocks')
    with op.batch_alter_table('host_reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_host_reservations_user_start')
        batch_op.drop_index(batch_op.f('ix_host_reservations_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_host_reservations_booking_id'))

    op.drop_table('host_reservations')
    op.drop_table('host_locks')
    with op.batch_alter_table('event_type_hosts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_type_hosts_user_id'))
        batch_op.drop_index(batch_op.f('ix_event_type_hosts_tenant_id'))

    op.drop_table('event_type_hosts')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bookings_tenant_id'))
        batch_op.drop_index('ix_bookings_event_type_start')

    op.drop_table('bookings')
    with op.batch_alter_table('event_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_types_tenant_id'))

    op.drop_table('event_types')
