-- AICO's own tables that the AMS jobs read, as AICO's migrator leaves them at its schema version 13
-- (shared/aico/data/schemas/core.py: facts_metadata of version 5, extended by 6 and 7, renamed
-- user_memories by 11, temporal_metadata added by 12; the per-user consolidation_state of 13).
-- entity/build/ runs this on a scratch database, then the migrations (which create Phase 3 there
-- from AICO's own statements of its versions 14, 15 and 18), and generates the `entity::aico`
-- models from the result. AICO's users table is left out: the models need the columns, not AICO's
-- users (the Phase 3 tables' foreign keys to it are left out of the models).
CREATE TABLE _aico_schema_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
INSERT INTO _aico_schema_metadata (key, value) VALUES ('schema_version', '13');
CREATE TABLE user_memories (
    fact_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    fact_type TEXT NOT NULL,
    category TEXT NOT NULL,
    confidence REAL NOT NULL,
    is_immutable BOOLEAN NOT NULL DEFAULT FALSE,
    valid_from TIMESTAMP NOT NULL,
    valid_until TIMESTAMP,
    content TEXT NOT NULL,
    entities_json TEXT,
    extraction_method TEXT NOT NULL,
    source_conversation_id TEXT NOT NULL,
    source_message_id TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    user_note TEXT,
    tags_json TEXT,
    is_favorite INTEGER DEFAULT 0,
    revisit_count INTEGER DEFAULT 0,
    last_revisited TIMESTAMP,
    emotional_tone TEXT,
    memory_type TEXT,
    content_type TEXT DEFAULT 'message',
    conversation_title TEXT,
    conversation_summary TEXT,
    turn_range TEXT,
    key_moments_json TEXT,
    temporal_metadata TEXT DEFAULT NULL
);
CREATE INDEX idx_user_memories_temporal ON user_memories(
    json_extract(temporal_metadata, '$.last_accessed'), json_extract(temporal_metadata, '$.confidence'));
CREATE INDEX idx_user_memories_superseded ON user_memories(json_extract(temporal_metadata, '$.superseded_by'));
CREATE TABLE consolidation_state (
    user_id TEXT NOT NULL,
    last_consolidation_at TIMESTAMP,
    messages_consolidated INTEGER DEFAULT 0,
    memories_created INTEGER DEFAULT 0,
    status TEXT DEFAULT 'pending',
    error_message TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (user_id)
);
