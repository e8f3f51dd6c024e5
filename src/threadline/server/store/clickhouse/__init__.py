"""The ClickHouse storage engine (docs/storage.md, "ClickHouse")."""
