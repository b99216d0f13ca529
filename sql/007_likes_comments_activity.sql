-- Likes, comments and the activity feed (workers/photo_social.c).
--
-- photo_id is not a foreign key in any of them: when a photo is deleted,
-- the social worker's purge job (photo_social_purge) still needs its likers
-- and its activity entries, to take them out of Redis, and deletes the rows
-- itself after.

-- The counts the photo object carries (like_count, comment_count), kept in
-- the same transaction as the rows they count.
alter table photos
    add column like_count    integer not null default 0 check (like_count >= 0),
    add column comment_count integer not null default 0 check (comment_count >= 0);

-- One row per (photo, user) who ever liked it; liked says whether they do
-- now. action_id is the request id of the last like or unlike applied:
-- an older job (replayed late by gearmand) changes nothing.
create table likes (
    photo_id   bigint not null,
    user_id    bigint not null references users (id) on delete cascade,
    liked      boolean not null,
    action_id  bigint not null,
    created_at timestamptz not null default now(),
    primary key (photo_id, user_id)
);

-- a user's likes (the likes:{uid} list's rebuild)
create index likes_user_idx on likes (user_id, photo_id) where liked;

-- Comments. The id is given by nginx (as photos'), so a replayed comment job
-- inserts nothing twice; a deleted comment's id stays in comment_deletions,
-- so that a replayed comment job never brings it back, with its photo's id
-- (null when the delete came before the comment was stored): a replayed
-- delete still writes that photo's object again (its comment_count).
create table comments (
    id         bigint primary key check (id > 0),
    photo_id   bigint not null,
    user_id    bigint not null references users (id) on delete cascade,
    text       text not null check (char_length(text) between 1 and 2200),
    created_at timestamptz not null default now()
);

-- a photo's comments newest first (GET /v1/photos/{id}/comments)
create index comments_photo_idx on comments (photo_id, id desc);

create table comment_deletions (
    id         bigint primary key,
    deleted_at timestamptz not null default now(),
    photo_id   bigint
);

-- What happened to a user's photos and account: the source of the
-- activity:{uid} lists in Redis. entry is the JSON the API returns for it,
-- made once by the worker (contract/photo_contract.h, "Activity").
create table activities (
    id         bigint primary key,
    owner_id   bigint not null references users (id) on delete cascade,
    actor_id   bigint not null references users (id) on delete cascade,
    kind       text not null check (kind in ('like', 'comment', 'follow')),
    photo_id   bigint,
    comment_id bigint,
    entry      text not null,
    created_at timestamptz not null default now()
);

-- an owner's activity newest first; a photo's entries (its purge); a like's
-- or a follow's entry, found again by who did it (an unlike, an unfollow)
create index activities_owner_idx on activities (owner_id, id desc);
create index activities_photo_idx on activities (photo_id) where photo_id is not null;
create index activities_actor_idx on activities (actor_id, kind, photo_id);
