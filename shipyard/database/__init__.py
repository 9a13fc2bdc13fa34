"""The database stage: migrations verified on a throwaway PostgreSQL."""
