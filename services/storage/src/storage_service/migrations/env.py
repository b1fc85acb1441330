from servicekit.migrations import run_alembic_env
from servicekit.outbox import kit_metadata
from storage_service.adapters.tables import metadata

run_alembic_env([metadata, kit_metadata], default_url="")
