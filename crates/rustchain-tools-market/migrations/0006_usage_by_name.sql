-- Which accounts use a package: the joins of discovery's "used together"
-- and recommendations go from a package to its accounts. Portable SQL, as
-- in 0001.
CREATE INDEX usage_reports_by_name ON usage_reports (name, account);
