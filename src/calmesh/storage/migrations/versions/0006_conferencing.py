"""Conferencing: custom providers, defaults, meetings calmesh created, per-day quotas, the
links and calendar events of bookings, and seats per slot.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa
import calmesh.storage.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('custom_conferencing_providers',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('created_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_custom_conferencing_providers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_custom_conferencing_providers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custom_conferencing_providers'))
    )
    with op.batch_alter_table('custom_conferencing_providers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custom_conferencing_providers_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custom_conferencing_providers_user_id'), ['user_id'], unique=False)

    op.create_table('meeting_quotas',
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.Column('blocked_until', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_meeting_quotas_connection_id_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'day', name=op.f('pk_meeting_quotas'))
    )
    op.create_table('meetings',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('provider_meeting_id', sa.String(length=64), nullable=False),
    sa.Column('join_url', sa.Text(), nullable=False),
    sa.Column('passcode', sa.String(length=64), nullable=True),
    sa.Column('personal', sa.Boolean(), nullable=False),
    sa.Column('dial_ins', sa.JSON(), nullable=False),
    sa.Column('start_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_meetings_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_meetings_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetings_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index('ix_meetings_connection_start', ['connection_id', 'start_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetings_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('conferencing_defaults',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('calendar_id', sa.String(length=40), nullable=True),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('custom_provider_id', sa.String(length=40), nullable=True),
    sa.Column('set_by', sa.String(length=40), nullable=True),
    sa.Column('updated_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_conferencing_defaults_calendar_id_calendars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['custom_provider_id'], ['custom_conferencing_providers.id'], name=op.f('fk_conferencing_defaults_custom_provider_id_custom_conferencing_providers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_conferencing_defaults_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_conferencing_defaults_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conferencing_defaults')),
    sa.UniqueConstraint('user_id', 'calendar_id', name=op.f('uq_conferencing_defaults_user_id'))
    )
    with op.batch_alter_table('conferencing_defaults', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conferencing_defaults_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conferencing_defaults_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meeting_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('calendar_event_id', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_bookings_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bookings_calendar_event_id'), ['calendar_event_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_bookings_meeting_id_meetings'), 'meetings', ['meeting_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_bookings_calendar_event_id_events'), 'events', ['calendar_event_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('event_types', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seats_per_slot', sa.Integer(), nullable=False, server_default='1'))



def downgrade() -> None:
    with op.batch_alter_table('event_types', schema=None) as batch_op:
        batch_op.drop_column('seats_per_slot')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bookings_calendar_event_id_events'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_bookings_meeting_id_meetings'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_bookings_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_bookings_calendar_event_id'))
        batch_op.drop_column('calendar_event_id')
        batch_op.drop_column('meeting_id')

    with op.batch_alter_table('conferencing_defaults', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conferencing_defaults_user_id'))
        batch_op.drop_index(batch_op.f('ix_conferencing_defaults_tenant_id'))

    op.drop_table('conferencing_defaults')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meetings_tenant_id'))
        batch_op.drop_index('ix_meetings_connection_start')
        batch_op.drop_index(batch_op.f('ix_meetings_connection_id'))

    op.drop_table('meetings')
    op.drop_table('meeting_quotas')
    with op.batch_alter_table('custom_conferencing_providers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custom_conferencing_providers_user_id'))
        batch_op.drop_index(batch_op.f('ix_custom_conferencing_providers_tenant_id'))

    op.drop_table('custom_conferencing_providers')
