-- Sharing to Twitter and Facebook (workers/photo_share.c).

-- A user's linked account per service: its credentials sealed by nginx
-- (contract/photo_secret.h: AES-256-GCM, bound to "<user id>:<service>"),
-- never stored in the clear; '' once unlinked. link_id is the request id of
-- the last link or unlink applied: an older job (replayed late) changes
-- nothing.
create table linked_accounts (
    user_id    bigint not null references users (id) on delete cascade,
    service    text not null check (service in ('twitter', 'facebook')),
    secret     text not null,
    link_id    bigint not null,
    updated_at timestamptz not null default now(),
    primary key (user_id, service)
);

-- A share posted to one service: a replayed photo_share job skips it.
create table shares (
    share_id   bigint not null,
    service    text not null,
    photo_id   bigint not null,
    remote_id  text,
    shared_at  timestamptz not null default now(),
    primary key (share_id, service)
);
