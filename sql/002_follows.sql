-- Who follows whom. The primary key answers "does A follow B" and "whom does
-- A follow" (feed rebuild); the second index answers "who follows B" (fan-out).
create table follows (
    follower   bigint not null references users (id) on delete cascade,
    followee   bigint not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    primary key (follower, followee),
    check (follower <> followee)
);

create index follows_followee_idx on follows (followee, follower);
