-- Pre-flight check that the theia_warehouse connection works (and which role it uses).
SELECT CURRENT_ROLE() AS current_role
