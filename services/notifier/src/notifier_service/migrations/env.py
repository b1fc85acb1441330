from notifier_service.adapters.tables import metadata
from servicekit.migrations import run_alembic_env
from servicekit.outbox import kit_metadata

run_alembic_env([metadata, kit_metadata], default_url="")
