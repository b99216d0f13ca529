-- The stored file of a deleted photo (DELETE /v1/photos/{id}): the persist
-- worker removes it once no photo uses it any more (a media id may be
-- posted more than once), asking photos by media_path; its path is kept
-- with the deletion, so that a delete job retried or replayed after the row
-- left photos still finds the file. Null for deletions made before.
alter table photo_deletions add column media_path text;

create index photos_media_path_idx on photos (media_path);
