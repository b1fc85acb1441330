from servicekit.migrations import run_alembic_env
from servicekit.outbox import kit_metadata

run_alembic_env([kit_metadata], default_url="")
