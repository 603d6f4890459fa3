"""Sign-in: users get a password hash and an admin flag; sign-in sessions, failed
sign-ins and first-run setup tokens get their tables.

Revision ID: 0006_auth
Revises: 0006_campaigns
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_auth"
down_revision: str | None = "0006_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN, not batch mode: a batch rebuilds ``users`` on SQLite, which
    # every other table references, and the rebuild would break their foreign keys.
    op.add_column(
        "users", sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("users", sa.Column("password_hash", sa.String(length=255), nullable=True))
    op.create_table(
        "sign_in_sessions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sign_in_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_sign_in_sessions_user_id"), "sign_in_sessions", ["user_id"], unique=False
    )
    op.create_index(
        "ix_sign_in_sessions_expires_at", "sign_in_sessions", ["expires_at"], unique=False
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        "ix_sign_in_failures_username_failed_at",
        "sign_in_failures",
        ["username", "failed_at"],
        unique=False,
    )
    op.create_index(
        "ix_sign_in_failures_client_ip_failed_at",
        "sign_in_failures",
        ["client_ip", "failed_at"],
        unique=False,
    )
    op.create_table(
        "setup_tokens",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_setup_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("setup_tokens")
    op.drop_index("ix_sign_in_failures_client_ip_failed_at", table_name="sign_in_failures")
    op.drop_index("ix_sign_in_failures_username_failed_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index("ix_sign_in_sessions_expires_at", table_name="sign_in_sessions")
    op.drop_index(op.f("ix_sign_in_sessions_user_id"), table_name="sign_in_sessions")
    op.drop_table("sign_in_sessions")
    op.drop_column("users", "password_hash")
    op.drop_column("users", "is_admin")
