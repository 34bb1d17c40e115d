"""index actions (status, group_id, due) for per-group open and overdue counts

Revision ID: d580b8769e7f
Revises: 0001
Create Date: 2026-11-28 19:30:42.081943

Built concurrently on PostgreSQL (storage.migration_ops), so a store upgrading while the
bot runs keeps taking writes to ``actions`` during the build. The schema it leaves is the
same as before; only how it gets there changed.
"""

from collections.abc import Sequence

from storage import migration_ops

revision: str = 'd580b8769e7f'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migration_ops.create_index('ix_actions_status_group_due', 'actions',
                               ['status', 'group_id', 'due'])


def downgrade() -> None:
    migration_ops.drop_index('ix_actions_status_group_due')
