"""SQLite storage: schema, migrations, repositories and the audit log."""
