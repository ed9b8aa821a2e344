-- A database role for Bindery read nodes: it may read the registry's tables and LISTEN, and
-- nothing else (a compromised read node cannot change what any other node serves). Run as the
-- role that owns the schema (the one `bindery migrate` connects as), after the first migration;
-- the default privileges cover tables later migrations add. Set a password out of band:
--   ALTER ROLE bindery_reader PASSWORD '...';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bindery_reader') THEN
        CREATE ROLE bindery_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO bindery_reader', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO bindery_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bindery_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO bindery_reader;
