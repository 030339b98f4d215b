"""Every table of Postline, as SQLAlchemy Core metadata.

Migrations under ``migrations/`` create them; this module is what queries
import. Subscription statuses use the workflow's codes (see ``SubStatus``).
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class SubStatus(IntEnum):
    """Subscription and global status codes, as the workflow numbers them."""

    SUBSCRIBED = 0
    UNSUBSCRIBED = 1
    COMPLAINED = 2
    HARDBOUNCED = 3
    UNCONFIRMED = 4
    SUSPENDED = 5
    INVALID = 6


def _created() -> Column[object]:
    return Column(
        "created_at", DateTime(timezone=True), nullable=False, server_default=func.now()
    )


def _updated() -> Column[object]:
    return Column(
        "updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()
    )


profiles = Table(
    "profiles",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("email", Text),
    Column("phone", Text),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("global_status", SmallInteger, nullable=False, server_default=text("0")),
    # Custom fields, by the column names of the import that set them.
    Column("fields", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _created(),
    _updated(),
    Index("uq_profiles_email", text("lower(email)"), unique=True),
)

lists = Table(
    "lists",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    _created(),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("profile_id", BigInteger, ForeignKey("profiles.id"), nullable=False),
    Column("list_id", BigInteger, ForeignKey("lists.id"), nullable=False),
    Column("channel", Text, nullable=False),
    Column("contact", Text, nullable=False),
    Column("priority", Integer, nullable=False, server_default=text("0")),
    Column("status", SmallInteger, nullable=False, server_default=text("0")),
    _created(),
    _updated(),
    UniqueConstraint("list_id", "channel", "contact"),
    Index("ix_subscriptions_profile", "profile_id"),
    # The campaign run reads a list's audience in profile order.
    Index("ix_subscriptions_audience", "list_id", "channel", "profile_id"),
    # A hard bounce finds every subscription of an address, in any spelling.
    Index("ix_subscriptions_contact", "channel", text("lower(contact)")),
)

# The platform stop list: nothing is ever sent to a contact on it.
stop_list = Table(
    "stop_list",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("channel", Text, nullable=False),
    Column("contact", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("message_id", Text),
    _created(),
    UniqueConstraint("channel", "contact"),
    Index("ix_stop_list_contact", "channel", text("lower(contact)")),
)

templates = Table(
    "templates",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("html", Text),
    Column("text", Text),
    _created(),
)

senders = Table(
    "senders",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("channel", Text, nullable=False, server_default=text("'email'")),
    Column("kind", Text, nullable=False, server_default=text("'mta'")),
    Column("from_email", Text, nullable=False),
    Column("from_name", Text),
    # Domain of the envelope sender (VERP return path) that names each message.
    Column("bounce_domain", Text, nullable=False),
    # Strategy: at most strategy_messages per strategy_interval seconds.
    Column("strategy_messages", Integer, nullable=False, server_default=text("60")),
    Column("strategy_interval", Integer, nullable=False, server_default=text("60")),
    Column("connections", Integer, nullable=False, server_default=text("4")),
    # Retry rule for soft bounces: retries after the first attempt, fixed interval.
    Column("retry_attempts", Integer, nullable=False, server_default=text("5")),
    Column("retry_interval", Integer, nullable=False, server_default=text("600")),
    # Seconds after queueing when an undelivered message expires.
    Column("lifetime", Integer, nullable=False, server_default=text("86400")),
    _created(),
    _updated(),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("list_id", BigInteger, ForeignKey("lists.id"), nullable=False),
    Column("channel", Text, nullable=False, server_default=text("'email'")),
    Column("template_id", BigInteger, ForeignKey("templates.id"), nullable=False),
    Column("sender_id", BigInteger, ForeignKey("senders.id"), nullable=False),
    Column("priority", Boolean, nullable=False, server_default=text("false")),
    _created(),
)

launches = Table(
    "launches",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("campaign_id", BigInteger, ForeignKey("campaigns.id"), nullable=False),
    # running -> finished; a crashed run stays "running" until resumed.
    Column("status", Text, nullable=False, server_default=text("'running'")),
    Column(
        "started_at", DateTime(timezone=True), nullable=False, server_default=func.now()
    ),
    Column("finished_at", DateTime(timezone=True)),
    # Highest profile id whose messages are confirmed published: a resumed
    # launch republishes only what lies beyond it.
    Column("published_through", BigInteger, nullable=False, server_default=text("0")),
    Index("ix_launches_campaign", "campaign_id"),
)

# One row per audience member of a launch, keyed by the deterministic message id.
ledger = Table(
    "ledger",
    metadata,
    Column("message_id", Text, primary_key=True),
    Column("launch_id", BigInteger, ForeignKey("launches.id"), nullable=False),
    Column("campaign_id", BigInteger, ForeignKey("campaigns.id"), nullable=False),
    Column("profile_id", BigInteger, ForeignKey("profiles.id"), nullable=False),
    Column("channel", Text, nullable=False),
    Column("contact", Text),
    Column("sender_id", BigInteger, ForeignKey("senders.id")),
    Column("status", Text, nullable=False),
    Column("reason", Text),
    Column("reply", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    _created(),
    _updated(),
    Index("ix_ledger_launch", "launch_id"),
    Index("ix_ledger_campaign_status", "campaign_id", "status"),
)

campaign_log = Table(
    "campaign_log",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("campaign_id", BigInteger, ForeignKey("campaigns.id"), nullable=False),
    Column("launch_id", BigInteger, ForeignKey("launches.id")),
    Column("level", Text, nullable=False),
    # "start", "end" or empty, as in the workflow's mailing log.
    Column("state", Text, nullable=False, server_default=text("''")),
    Column("message", Text, nullable=False),
    Column("value", Text),
    # Set on per-recipient entries.
    Column("message_id", Text),
    Column("profile_id", BigInteger),
    _created(),
    Index("ix_campaign_log_campaign", "campaign_id", "id"),
)

# Append-only history of every status change; event_id makes replays harmless.
events = Table(
    "events",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("message_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("reason", Text),
    Column("reply", Text),
    Column("decision", Text),
    Column("category", Text),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column(
        "recorded_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
    ),
    Index("ix_events_message", "message_id"),
)
