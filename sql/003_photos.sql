-- Photos. The id is given by nginx (Instagram-style, time-ordered), never by
-- the database, so a replayed persist job inserts nothing twice.
create table photos (
    id         bigint primary key check (id > 0),
    user_id    bigint not null references users (id) on delete cascade,
    caption    text not null default '' check (char_length(caption) <= 2200),
    media_path text not null,
    image_url  text not null,
    width      integer not null check (width > 0),
    height     integer not null check (height > 0),
    lat        double precision check (lat between -90 and 90),
    lng        double precision check (lng between -180 and 180),
    created_at timestamptz not null default now(),
    check ((lat is null) = (lng is null))
);

-- a user's photos newest first, and the feed rebuild (newest of followees)
create index photos_user_id_idx on photos (user_id, id desc);
