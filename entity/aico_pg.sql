-- AICO's PostgreSQL tables that the AMS reads and backfills (facts, segments, working memory),
-- copied unchanged from AICO's schema file (tests/fixtures/aico-2026/postgres-schema.sql, AICO's
-- shared/aico/data/postgres/schema.sql), which makes them in schema `aico_core` with the
-- extension `vector` on its search path. entity/build parses these statements (no server is needed
-- to build) and generates the `entity::aico_pg` models from them; tests/tests/aico_pg_entity.rs
-- checks that each statement is in AICO's file as it is here, and that the models match a database
-- built by that file.

CREATE TABLE IF NOT EXISTS "ams_user_memories" (
                fact_id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                fact_type TEXT NOT NULL,  -- identity, preference, relationship, temporal
                category TEXT NOT NULL,   -- personal_info, preferences, relationships
                confidence DOUBLE PRECISION NOT NULL,
                is_immutable BOOLEAN NOT NULL DEFAULT FALSE,
                -- Temporal validity
                valid_from TIMESTAMPTZ NOT NULL,
                valid_until TIMESTAMPTZ,
                -- Content and extraction
                content TEXT NOT NULL,
                entities_json JSONB,  -- JSONB array of extracted entities
                extraction_method TEXT NOT NULL,
                -- Provenance
                source_conversation_id TEXT NOT NULL,
                source_message_id TEXT,
                -- Timestamps
                created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
                updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
                -- Memory Album feature columns
                user_note TEXT,
                tags_json JSONB,
                is_favorite BOOLEAN DEFAULT FALSE,
                revisit_count INTEGER DEFAULT 0,
                last_revisited TIMESTAMPTZ,
                emotional_tone TEXT,
                memory_type TEXT,
                content_type TEXT DEFAULT 'message',
                conversation_title TEXT,
                conversation_summary TEXT,
                turn_range TEXT,
                key_moments_json JSONB,
                temporal_metadata TEXT DEFAULT NULL,
                language TEXT
            );

CREATE TABLE IF NOT EXISTS working_memory_messages (
                id BIGSERIAL PRIMARY KEY,
                conversation_id TEXT NOT NULL,
                user_id TEXT,
                message_id TEXT,
                role TEXT,
                content TEXT,
                language TEXT,
                message_type TEXT,
                payload_json JSONB,
                stored_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
                expires_at TIMESTAMPTZ,
                last_accessed_at TIMESTAMPTZ,
                access_count INTEGER NOT NULL DEFAULT 0
            );

CREATE TABLE IF NOT EXISTS conversation_segments (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    embedding vector(768) NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    metadata JSONB,
    created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
);
