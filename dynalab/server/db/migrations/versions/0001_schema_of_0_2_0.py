"""The schema of dynalab-server 0.2.0: users, bearer tokens, uploads, task quotas.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("api_token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "task_quotas",
        sa.Column("task_code", sa.String(100), primary_key=True),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("hr_diff", sa.Integer, nullable=False),
    )
    op.create_table(
        "bearer_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_bearer_tokens_user_id", "bearer_tokens", ["user_id"])
    op.create_index("ix_bearer_tokens_expires_at", "bearer_tokens", ["expires_at"])
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("task_code", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    for column in ("task_code", "user_id", "sha256", "created_at"):
        op.create_index(f"ix_uploads_{column}", "uploads", [column])


def downgrade():
    for table in ("uploads", "bearer_tokens", "task_quotas", "users"):
        op.drop_table(table)
