"""The database: table definitions, the async engine and the migrations."""
