"""The database: tables, sessions, and what each change writes in the caller's transaction."""
