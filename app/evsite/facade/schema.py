"""The facade's own tables (badge groups), as a migration list for the composition root."""

# Add to the composition root's migrations as {"facade": FACADE_MIGRATIONS}; append only.
FACADE_MIGRATIONS: list[str] = [
    # 1: badge groups and how their badges are authorized
    """
    CREATE TABLE badge_groups (
        name TEXT PRIMARY KEY,
        strategy TEXT NOT NULL
    )
    """,
]
