"""One rating per user and template: ``template_ratings`` and ``legacy_template_ratings``.

Until now a rating only moved the template's running average (``rating``,
``rating_count``), so nobody's earlier ratings can be told apart and there are no per-user
rows to de-duplicate. The ratings already given are kept as one anonymous sum and count per
template family in ``legacy_template_ratings`` (the integer sum is recovered from the
average times the count), and every later average includes them. API keys need no change:
``api_keys.revoked_at`` and ``last_used_at`` exist since the initial schema.

Downgrading drops both tables; the averages stored on the templates stay as they are (so
upgrading again keeps the ratings given meanwhile, as anonymous ones).

Revision ID: 0003_keys_ratings
Revises: 0002_timers
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_keys_ratings"
down_revision: str | None = "0002_timers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "template_ratings",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("family_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rating >= 1 AND rating <= 5", name=op.f("ck_template_ratings_rating_range")
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["workflow_templates.id"],
            name=op.f("fk_template_ratings_family_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_template_ratings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_ratings")),
        sa.UniqueConstraint(
            "family_id", "user_id", name=op.f("uq_template_ratings_family_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_template_ratings_user_id"), "template_ratings", ["user_id"], unique=False
    )
    op.create_table(
        "legacy_template_ratings",
        sa.Column("family_id", sa.String(length=26), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "rating_count > 0", name=op.f("ck_legacy_template_ratings_rating_count_positive")
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["workflow_templates.id"],
            name=op.f("fk_legacy_template_ratings_family_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("family_id", name=op.f("pk_legacy_template_ratings")),
    )
    # Every rating was a whole number from 1 to 5, so average × count rounds to their exact
    # sum. The statistics of a family live on its latest version.
    op.execute(
        sa.text(
            "INSERT INTO legacy_template_ratings (family_id, rating_sum, rating_count) "
            "SELECT family_id, CAST(ROUND(rating * rating_count) AS INTEGER), rating_count "
            "FROM workflow_templates WHERE is_latest AND rating_count > 0"
        )
    )


def downgrade() -> None:
    op.drop_table("legacy_template_ratings")
    op.drop_index(op.f("ix_template_ratings_user_id"), table_name="template_ratings")
    op.drop_table("template_ratings")
