-- The sized copies of a photo's upload (workers/photo_media.c,
-- contract/photo_media.h): each size's width and height, in the order of
-- photo_media_sizes (thumbnail, low, standard, full), once the media worker
-- made them; null before.
alter table photos add column images integer[]
    check (images is null or array_length(images, 1) = 8);
