-- The registry generation: one row whose counter every write bumps in its own transaction.
-- Replicas compare it to decide whether their in-memory metadata cache is still current
-- (registry-server/src/registry/cache.rs). Portable between SQLite and PostgreSQL.
CREATE TABLE registry_generation (
    id          BIGINT PRIMARY KEY,
    generation  BIGINT NOT NULL
);

INSERT INTO registry_generation (id, generation) VALUES (1, 0);
