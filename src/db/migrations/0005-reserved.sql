-- Version 5 is the pause fields of issue 10, written on another branch at the same
-- time as version 6. This placeholder changes nothing; the merge replaces it with
-- that branch's 0005 step (and tests/fixtures/schema-v5.sql with its schema).
SELECT 1;
