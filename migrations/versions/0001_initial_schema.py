"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 15:15:26.646472
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admins')),
    sa.UniqueConstraint('email', name=op.f('uq_admins_email'))
    )
    op.create_table('councils',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('short_name', sa.String(length=120), nullable=False),
    sa.Column('nation', sa.String(length=40), nullable=False),
    sa.Column('gss_code', sa.String(length=12), nullable=False),
    sa.Column('local_authority_code', sa.String(length=8), nullable=False),
    sa.Column('council_type', sa.String(length=80), nullable=False),
    sa.Column('website', sa.String(length=300), nullable=False),
    sa.Column('system', sa.Enum('moderngov', 'cmis', 'other', 'unknown', name='councilsystem', native_enum=False, length=32), nullable=False),
    sa.Column('base_url', sa.String(length=300), nullable=False),
    sa.Column('shared_install_with', sa.String(length=80), nullable=False),
    sa.Column('committee_filter', sa.String(length=300), nullable=False),
    sa.Column('status', sa.Enum('waitlist', 'enabled', 'paused', name='councilstatus', native_enum=False, length=32), nullable=False),
    sa.Column('enabled_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('last_probe_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_probe_ok', sa.Boolean(), nullable=True),
    sa.Column('last_probe_message', sa.Text(), nullable=True),
    sa.Column('created_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_councils')),
    sa.UniqueConstraint('slug', name=op.f('uq_councils_slug'))
    )
    with op.batch_alter_table('councils', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_councils_status'), ['status'], unique=False)

    op.create_table('domain_pauses',
    sa.Column('domain_group', sa.String(length=80), nullable=False),
    sa.Column('paused_until', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('domain_group', name=op.f('pk_domain_pauses'))
    )
    op.create_table('heartbeats',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('beat_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_heartbeats'))
    )
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=80), nullable=False),
    sa.Column('started_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_runs_job'), ['job'], unique=False)

    op.create_table('subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('created_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('email', name=op.f('uq_subscribers_email'))
    )
    op.create_table('suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Enum('hard_bounce', 'soft_bounce', 'complaint', 'erased', 'manual', name='suppressionreason', native_enum=False, length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
    sa.UniqueConstraint('email_hash', name=op.f('uq_suppressions_email_hash'))
    )
    op.create_table('admin_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('occurred_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['admins.id'], name=op.f('fk_admin_actions_admin_id_admins'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_actions'))
    )
    with op.batch_alter_table('admin_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_actions_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('committees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('category', sa.String(length=200), nullable=False),
    sa.Column('is_expired', sa.Boolean(), nullable=False),
    sa.Column('first_seen_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_committees_council_id_councils'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committees')),
    sa.UniqueConstraint('council_id', 'source_id', name=op.f('uq_committees_council_id_source_id'))
    )
    op.create_table('digests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('web_html', sa.Text(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('is_quiet', sa.Boolean(), nullable=False),
    sa.Column('built_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_digests_council_id_councils'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digests')),
    sa.UniqueConstraint('council_id', 'week', name=op.f('uq_digests_council_id_week'))
    )
    op.create_table('enablement_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'approved', 'declined', name='requeststatus', native_enum=False, length=32), nullable=False),
    sa.Column('confirm_nonce', sa.String(length=32), nullable=True),
    sa.Column('created_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.Column('ip_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_enablement_requests_council_id_councils'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['admins.id'], name=op.f('fk_enablement_requests_decided_by_id_admins'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enablement_requests'))
    )
    with op.batch_alter_table('enablement_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enablement_requests_council_id'), ['council_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enablement_requests_email'), ['email'], unique=False)

    op.create_table('fetch_validators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('etag', sa.String(length=300), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('checked_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_fetch_validators_council_id_councils'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fetch_validators')),
    sa.UniqueConstraint('council_id', 'url', name=op.f('uq_fetch_validators_council_id_url'))
    )
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('committee_source_id', sa.String(length=40), nullable=False),
    sa.Column('committee', sa.String(length=300), nullable=False),
    sa.Column('title', sa.String(length=400), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('start_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('time_known', sa.Boolean(), nullable=False),
    sa.Column('end_time_text', sa.String(length=40), nullable=False),
    sa.Column('venue', sa.String(length=400), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'cancelled', 'held', 'rescheduled', name='meetingstatus', native_enum=False, length=32), nullable=False),
    sa.Column('status_label', sa.String(length=200), nullable=False),
    sa.Column('source_url', sa.String(length=500), nullable=False),
    sa.Column('is_webcast', sa.Boolean(), nullable=False),
    sa.Column('agenda_published', sa.Boolean(), nullable=False),
    sa.Column('minutes_published', sa.Boolean(), nullable=False),
    sa.Column('list_signature', sa.String(length=64), nullable=False),
    sa.Column('detail_signature', sa.String(length=64), nullable=False),
    sa.Column('detail_fetched_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_seen_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_meetings_council_id_councils'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings')),
    sa.UniqueConstraint('council_id', 'source_id', name=op.f('uq_meetings_council_id_source_id'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index('ix_meetings_council_start', ['council_id', 'start_at'], unique=False)

    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('resident', 'professional', name='subscriptionkind', native_enum=False, length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'unsubscribed', name='subscriptionstatus', native_enum=False, length=32), nullable=False),
    sa.Column('confirm_nonce', sa.String(length=32), nullable=True),
    sa.Column('created_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('requested_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_subscriptions_council_id_councils'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscriptions_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('subscriber_id', 'council_id', name=op.f('uq_subscriptions_subscriber_id_council_id'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_council_status', ['council_id', 'status'], unique=False)

    op.create_table('agenda_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('agenda_text', sa.Text(), nullable=False),
    sa.Column('minutes_text', sa.Text(), nullable=False),
    sa.Column('resolutions', sa.JSON(), nullable=False),
    sa.Column('is_restricted', sa.Boolean(), nullable=False),
    sa.Column('is_decision', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_agenda_items_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_items')),
    sa.UniqueConstraint('meeting_id', 'source_id', name=op.f('uq_agenda_items_meeting_id_source_id'))
    )
    with op.batch_alter_table('agenda_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agenda_items_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('attendees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_source_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=200), nullable=False),
    sa.Column('party', sa.String(length=120), nullable=False),
    sa.Column('attendance', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_attendees_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendees')),
    sa.UniqueConstraint('meeting_id', 'name', name=op.f('uq_attendees_meeting_id_name'))
    )
    with op.batch_alter_table('attendees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendees_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('consent_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('council_slug', sa.String(length=80), nullable=False),
    sa.Column('event', sa.Enum('requested', 'confirmed', 'unsubscribed', name='consenteventkind', native_enum=False, length=32), nullable=False),
    sa.Column('occurred_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('wording_version', sa.String(length=40), nullable=False),
    sa.Column('wording_sha256', sa.String(length=64), nullable=False),
    sa.Column('ip_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_consent_events_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_consent_events_subscription_id_subscriptions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_events'))
    )
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_events_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('digest_meetings',
    sa.Column('digest_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('section', sa.Enum('reported', 'cancelled', 'minutes', 'upcoming', name='digestsection', native_enum=False, length=32), nullable=False),
    sa.ForeignKeyConstraint(['digest_id'], ['digests.id'], name=op.f('fk_digest_meetings_digest_id_digests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_digest_meetings_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('digest_id', 'meeting_id', 'section', name=op.f('pk_digest_meetings'))
    )
    with op.batch_alter_table('digest_meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_meetings_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('meeting_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('new', 'rescheduled', 'cancelled', 'reinstated', 'agenda_published', 'minutes_published', name='changekind', native_enum=False, length=32), nullable=False),
    sa.Column('seen_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_meeting_changes_council_id_councils'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_changes_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_changes'))
    )
    with op.batch_alter_table('meeting_changes', schema=None) as batch_op:
        batch_op.create_index('ix_meeting_changes_council_seen', ['council_id', 'seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_changes_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('council_id', sa.Integer(), nullable=True),
    sa.Column('digest_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=True),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'failed', 'suppressed', name='outboxstatus', native_enum=False, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('worker', sa.String(length=120), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', digest.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_outbox_messages_council_id_councils'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['digest_id'], ['digests.id'], name=op.f('fk_outbox_messages_digest_id_digests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_outbox_messages_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_outbox_messages_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('purpose', 'reference', 'recipient', name=op.f('uq_outbox_messages_purpose_reference_recipient'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_recipient'), ['recipient'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_subscriber_id'), ['subscriber_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('bounce_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('outbox_message_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('hard', 'soft', 'complaint', 'policy', name='bouncekind', native_enum=False, length=32), nullable=False),
    sa.Column('status_code', sa.String(length=20), nullable=False),
    sa.Column('diagnostic', sa.Text(), nullable=False),
    sa.Column('occurred_at', digest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], name=op.f('fk_bounce_events_outbox_message_id_outbox_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_bounce_events_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bounce_events'))
    )
    with op.batch_alter_table('bounce_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bounce_events_email_hash'), ['email_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounce_events_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('agenda_item_id', sa.Integer(), nullable=True),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('url', sa.String(length=700), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('is_restricted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['agenda_item_id'], ['agenda_items.id'], name=op.f('fk_documents_agenda_item_id_agenda_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_documents_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('meeting_id', 'url', name=op.f('uq_documents_meeting_id_url'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_meeting_id'), ['meeting_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_meeting_id'))

    op.drop_table('documents')
    with op.batch_alter_table('bounce_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bounce_events_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_bounce_events_email_hash'))

    op.drop_table('bounce_events')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_messages_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_messages_recipient'))
        batch_op.drop_index('ix_outbox_messages_due')

    op.drop_table('outbox_messages')
    with op.batch_alter_table('meeting_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_changes_meeting_id'))
        batch_op.drop_index('ix_meeting_changes_council_seen')

    op.drop_table('meeting_changes')
    with op.batch_alter_table('digest_meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_meetings_meeting_id'))

    op.drop_table('digest_meetings')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_events_subscriber_id'))

    op.drop_table('consent_events')
    with op.batch_alter_table('attendees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendees_meeting_id'))

    op.drop_table('attendees')
    with op.batch_alter_table('agenda_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_items_meeting_id'))

    op.drop_table('agenda_items')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_council_status')

    op.drop_table('subscriptions')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index('ix_meetings_council_start')

    op.drop_table('meetings')
    op.drop_table('fetch_validators')
    with op.batch_alter_table('enablement_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enablement_requests_email'))
        batch_op.drop_index(batch_op.f('ix_enablement_requests_council_id'))

    op.drop_table('enablement_requests')
    op.drop_table('digests')
    op.drop_table('committees')
    with op.batch_alter_table('admin_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_actions_occurred_at'))

    op.drop_table('admin_actions')
    op.drop_table('suppressions')
    op.drop_table('subscribers')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_runs_job'))

    op.drop_table('job_runs')
    op.drop_table('heartbeats')
    op.drop_table('domain_pauses')
    with op.batch_alter_table('councils', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_councils_status'))

    op.drop_table('councils')
    op.drop_table('admins')
