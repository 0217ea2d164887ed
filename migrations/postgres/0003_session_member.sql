-- The member each session concerns (issue 13, throughput): a turn locks its session and
-- reads that member's standing in the same statement, one round trip instead of two. Not
-- indexed, so the turns' updates stay HOT; NULL for a session that concerns no member yet
-- (or was saved outside a turn), whose turns ask for the standing when they need it.
ALTER TABLE sessions ADD COLUMN member text;
