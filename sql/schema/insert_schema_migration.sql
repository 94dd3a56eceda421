INSERT INTO SCHEMA_MIGRATIONS (version, description) VALUES (:version, :description);
