"""Tenancy: every user's phone numbers carry their WABA id, tier and their own token.

``phone_numbers`` gains ``waba_id``, ``messaging_limit_tier``, ``access_token_encrypted``
and ``updated_at``; the unused ``access_token_ref`` becomes ``access_token_env`` (the name
of an environment variable holding the token). A CHECK keeps at most one kind of token.

Revision ID: 0005_tenancy
Revises: 0006_pending_statuses
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_tenancy"
down_revision: str | None = "0006_pending_statuses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ONE_TOKEN = "access_token_env IS NULL OR access_token_encrypted IS NULL"


def upgrade() -> None:
    # Batch mode: SQLite cannot rename or retype a column, or add a CHECK, in place.
    with op.batch_alter_table("phone_numbers") as batch:
        batch.alter_column(
            "access_token_ref",
            new_column_name="access_token_env",
            existing_type=sa.Text(),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
        batch.add_column(sa.Column("waba_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("messaging_limit_tier", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("access_token_encrypted", sa.Text(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    # Existing numbers were last changed when they were created.
    op.execute("UPDATE phone_numbers SET updated_at = created_at")
    with op.batch_alter_table("phone_numbers") as batch:
        batch.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_check_constraint(op.f("ck_phone_numbers_one_access_token"), _ONE_TOKEN)


def downgrade() -> None:
    # A sealed token cannot live in the old schema: its number keeps no token afterwards.
    with op.batch_alter_table("phone_numbers") as batch:
        batch.drop_constraint(op.f("ck_phone_numbers_one_access_token"), type_="check")
        batch.drop_column("updated_at")
        batch.drop_column("access_token_encrypted")
        batch.drop_column("messaging_limit_tier")
        batch.drop_column("waba_id")
        batch.alter_column(
            "access_token_env",
            new_column_name="access_token_ref",
            existing_type=sa.String(length=255),
            type_=sa.Text(),
            existing_nullable=True,
        )
