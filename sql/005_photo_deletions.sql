-- Photos their posters deleted (DELETE /v1/photos/{id}, the persist worker):
-- the row leaves photos and its id stays here, so that a persist job for it
-- that is replayed later (gearmand requeues the job of a worker that died)
-- never brings the photo back, and a replayed delete still finishes its
-- follow-ups (cache, lists, Solr).
create table photo_deletions (
    id         bigint primary key check (id > 0),
    user_id    bigint not null,
    deleted_at timestamptz not null default now()
);
