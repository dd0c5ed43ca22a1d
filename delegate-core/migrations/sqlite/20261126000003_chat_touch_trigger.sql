-- A message insert moves its chat session's updated_at in the same statement, so storing an
-- exchange is one statement (one commit) on the request path.

CREATE TRIGGER chat_messages_touch_session AFTER INSERT ON chat_messages
BEGIN
    UPDATE chat_sessions SET updated_at = NEW.created_at WHERE id = NEW.session_id;
END;
