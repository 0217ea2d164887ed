-- The member a session's state is about (NULL: none), so that a turn reads the member's
-- standing (member_standings) with the session in one statement, not in a round trip of its
-- own. Written with the state; a row saved without it only costs its next turn that read.
ALTER TABLE sessions ADD COLUMN member text;
