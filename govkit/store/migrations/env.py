"""The Alembic environment of the govkit audit store.

govkit runs its migrations itself, on a connection it already holds inside its
schema lock (``govkit db upgrade``, or ``Store.open`` on a new database): see
:mod:`govkit.store._migrate`, which also serves the ``alembic`` command line for a
developer writing a new revision (``-x url=DATABASE_URL``).
"""

from alembic import context

from govkit.store._migrate import run_environment

run_environment(context)
