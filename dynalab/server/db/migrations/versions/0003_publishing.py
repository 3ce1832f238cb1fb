"""Publishing: whether a model is on its task's leaderboard, since when, and its card.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    with op.batch_alter_table("uploads") as uploads:
        uploads.add_column(sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()))
        uploads.add_column(sa.Column("published_at", sa.DateTime, nullable=True))
        uploads.add_column(sa.Column("card_description", sa.Text, nullable=True))
        uploads.add_column(sa.Column("card_paper_url", sa.String(500), nullable=True))
        uploads.add_column(sa.Column("card_code_url", sa.String(500), nullable=True))
        uploads.add_column(sa.Column("card_license", sa.String(100), nullable=True))
        uploads.add_column(sa.Column("card_anonymous", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_uploads_task_code_published", "uploads", ["task_code", "published"])


def downgrade():
    op.drop_index("ix_uploads_task_code_published", "uploads")
    with op.batch_alter_table("uploads") as uploads:
        for column in ("card_anonymous", "card_license", "card_code_url", "card_paper_url", "card_description",
                       "published_at", "published"):
            uploads.drop_column(column)
