"""OAuth consents in progress (auth-url to callback) and push channels (Google watch).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa
import calmesh.storage.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_authorizations',
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=True),
    sa.Column('user_id', sa.String(length=40), nullable=True),
    sa.Column('return_to', sa.Text(), nullable=True),
    sa.Column('created_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_oauth_authorizations_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_oauth_authorizations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oauth_authorizations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('state', name=op.f('pk_oauth_authorizations'))
    )
    with op.batch_alter_table('oauth_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_authorizations_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_authorizations_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('push_channels',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('calendar_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_notified_at', calmesh.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_push_channels_calendar_id_calendars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_push_channels_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_push_channels_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_channels'))
    )
    with op.batch_alter_table('push_channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_channels_calendar_id'), ['calendar_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_channels_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_channels_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_channels_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('push_channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_channels_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_push_channels_expires_at'))
        batch_op.drop_index(batch_op.f('ix_push_channels_connection_id'))
        batch_op.drop_index(batch_op.f('ix_push_channels_calendar_id'))

    op.drop_table('push_channels')
    with op.batch_alter_table('oauth_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_authorizations_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_authorizations_expires_at'))

    op.drop_table('oauth_authorizations')
