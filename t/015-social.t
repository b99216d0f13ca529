# Likes, comments and the activity feed, as nginx answers them: the writes
# are checked (the photo exists, the comment's text, who may delete a
# comment) and refused with a 4xx JSON that queues nothing; the reads
# (a photo's comments from Postgres, the activity from Redis or, for a list
# that is not complete, Postgres; "liked" and the counts on every photo)
# answer from what is seeded here.  (The workers' part, end to end:
# t/scripts/e2e_social.py.)
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

my ($READER, $POSTER) = (5101, 5102);
our $Token = "$READER-tok_social_0123456789abcdef";
our $PosterToken = "$POSTER-tok_social_0123456789abcdef";

my ($ids, $p) = reader_and_poster(reader => $READER, poster => $POSTER,
                                  name => 'social', base => 9_510_000,
                                  at => 1790003000);
our @Ids = @$ids;
our %P = %$p;
our $Missing = 9_510_999;

sql("delete from likes where user_id in ($READER, $POSTER) or photo_id = $Missing");
sql("delete from comments where photo_id in (" . join(',', @Ids, $Missing) . ")");
sql("delete from activities where owner_id in ($READER, $POSTER)");
sql("delete from photos where id = $Missing");
mc_delete("photo:$_") for @Ids;

# the reader likes photos 2 and 5 (Redis, complete), and Postgres has the
# counts the workers would have kept
complete_feed($READER, $Token, @Ids);
redis('SET', session_key($PosterToken), $POSTER, 'EX', 3600);
redis('DEL', "likes:{$READER}");
redis('ZADD', "likes:{$READER}", 0, '0' x 19, 0, list_id($Ids[1]), 0, list_id($Ids[4]));
sql("insert into likes (photo_id, user_id, liked, action_id) values
     ($Ids[1], $READER, true, 1), ($Ids[4], $READER, true, 1), ($Ids[3], $READER, false, 1)");
sql("update photos set like_count = 1 where id in ($Ids[1], $Ids[4])");
$P{$Ids[$_]}{like_count} = 1 for 1, 4;
$P{$Ids[$_]}{liked} = ($_ == 1 || $_ == 4) ? 1 : 0 for 0 .. 5;

# two comments on photo 1, by the reader and by the poster
our @Comments = (9_510_101, 9_510_102);
sql("insert into comments (id, photo_id, user_id, text, created_at) values
     ($Comments[0], $Ids[0], $READER, 'first \"quoted\"', to_timestamp(1790003100)),
     ($Comments[1], $Ids[0], $POSTER, 'second, ' || chr(233), to_timestamp(1790003200))");
sql("update photos set comment_count = 2 where id = $Ids[0]");
$P{$Ids[0]}{comment_count} = 2;

# the poster's activity in Redis (complete), the reader's in Postgres only
our @Entries = map { '{"id":"' . (9_510_200 + $_) . '","type":"like","actor":{"id":"'
    . $READER . '","username":"reader_social"},"photo":{"id":"' . $Ids[$_]
    . '","image_url":"/media/social/' . ($_ + 1) . '.jpg"},"created_at":"2026-09-20T00:00:0'
    . $_ . 'Z"}' } 0 .. 2;
redis('DEL', "activity:{$POSTER}", "activity:{$READER}");
redis('ZADD', "activity:{$POSTER}", 0, '0' x 19,
      map { (0, list_id(9_510_200 + $_) . ':' . $Entries[$_]) } 0 .. 2);
our $Followed = '{"id":"9510300","type":"follow","actor":{"id":"' . $POSTER
    . '","username":"poster_social"},"created_at":"2026-09-20T00:00:00Z"}';
sql("insert into activities (id, owner_id, actor_id, kind, entry) values
     (9510300, $READER, $POSTER, 'follow', '$Followed')");

sub photo { photo_json(%{ $P{$_[0]} }) }
sub page {
    my ($next, @page) = @_;
    return '{"photos":[' . join(',', map { photo($_) } @page) . '],"next_max_id":'
        . (defined $next ? "\"$next\"" : 'null') . '}';
}
our $Feed = page(undef, reverse @Ids);
our $Feed2 = page($Ids[1], reverse @Ids[1, 2]);
our $One = photo($Ids[4]);
our $Newest = '{"photos":[' . photo_json(%{ $P{$Ids[5]} }, liked => 1)
    . '],"next_max_id":"' . $Ids[5] . '"}';

sub comment {
    my ($id, $user, $name, $text, $at) = @_;
    return '{"id":"' . $id . '","user":{"id":"' . $user . '","username":"' . $name
        . '"},"text":' . PhotoFixture::json_str($text) . ',"created_at":"' . $at . '"}';
}
our @CommentJson = (
    comment($Comments[0], $READER, 'reader_social', 'first "quoted"', '2026-09-21T15:05:00Z'),
    comment($Comments[1], $POSTER, 'poster_social', "second, \xc3\xa9", '2026-09-21T15:06:40Z'));

our $CommentsPage = '{"comments":[' . join(',', reverse @CommentJson) . '],"next_max_id":null}';
our $ActivityPage = '{"activity":[' . join(',', reverse @Entries) . '],"next_max_id":null}';
our $ActivityPaged = '{"activity":[' . join(',', @Entries[2, 1]) . '],"next_max_id":"9510201"}';

our $Long = 'x' x 2201;

# what a refused write must not have made
sub made {
    my ($c) = sql("select count(*) from comments where photo_id = $Missing
                   or text in ('', ' ', '$Long')");
    my ($l) = sql("select count(*) from likes where photo_id = $Missing");
    return $c->[0] + $l->[0];
}

photo_block_defaults(config => "location / { photo_api; }",
                     more_headers => "Authorization: Bearer $Token");

no_shuffle();
no_root_location();
run_tests();

is(made(), 0, "nothing was written for the refused likes and comments");
is(join(',', @{ redis('ZRANGE', "likes:{$READER}", 0, -1) }),
   join(',', '0' x 19, list_id($Ids[1]), list_id($Ids[4])),
   "the reader's likes, read from Postgres, were stored back complete");

__DATA__

=== TEST 1: like without a session: 401
--- more_headers
X-Nothing: 1
--- request eval
"POST /v1/photos/$::Ids[0]/likes"
--- error_code: 401
--- response_body_like: "code":"unauthorized"



=== TEST 2: like, a malformed id: 400 naming it
--- request
POST /v1/photos/12ab/likes
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_id","message":"the photo id must be a positive 64-bit integer"}}



=== TEST 3: like a photo that does not exist: 404
--- request eval
"POST /v1/photos/$::Missing/likes"
--- error_code: 404
--- response_body eval
qq{{"error":{"code":"not_found","message":"no photo $::Missing"}}}



=== TEST 4: unlike a photo that does not exist: 404 too
--- request eval
"DELETE /v1/photos/$::Missing/likes"
--- error_code: 404
--- response_body_like: "code":"not_found"



=== TEST 5: a comment without text: 400 naming the field
--- request eval
"POST /v1/photos/$::Ids[0]/comments\n{}"
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json"
--- error_code: 400
--- response_body_like: "code":"invalid_field".*\\"text\\"



=== TEST 6: an empty comment: 400 naming the field
--- request eval
"POST /v1/photos/$::Ids[0]/comments\n" . '{"text":""}'
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json"
--- error_code: 400
--- response_body_like: \\"text\\" must have 1 to 2200 characters



=== TEST 7: a blank comment: 400
--- request eval
"POST /v1/photos/$::Ids[0]/comments\n" . '{"text":" "}'
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json"
--- error_code: 400
--- response_body_like: \\"text\\" must not be blank



=== TEST 8: a comment of 2201 characters: 400; 2200 is the limit
--- request eval
"POST /v1/photos/$::Ids[0]/comments\n" . qq{{"text":"$::Long"}}
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json"
--- error_code: 400
--- response_body_like: \\"text\\" must have 1 to 2200 characters



=== TEST 9: a comment that is not UTF-8: 400
--- request eval
"POST /v1/photos/$::Ids[0]/comments\n" . qq{{"text":"caf\xe9"}}
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json"
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"text\" is not valid UTF-8"}}



=== TEST 10: a comment that is not a string: 400 naming the field
--- request eval
"POST /v1/photos/$::Ids[0]/comments\n" . '{"text":42}'
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json"
--- error_code: 400
--- response_body_like: \\"text\\" must be a string



=== TEST 11: a comment on a photo that does not exist: 404
--- request eval
"POST /v1/photos/$::Missing/comments\n" . '{"text":"hello"}'
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json"
--- error_code: 404
--- response_body eval
qq{{"error":{"code":"not_found","message":"no photo $::Missing"}}}



=== TEST 12: deleting a comment that does not exist: 404
--- request
DELETE /v1/comments/9510199
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"no comment 9510199"}}



=== TEST 13: deleting the poster's comment on the poster's photo, as the reader: 403
--- request eval
"DELETE /v1/comments/$::Comments[1]"
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"only its author or the photo's poster can delete a comment"}}



=== TEST 14: a photo's comments, newest first
--- request eval
"GET /v1/photos/$::Ids[0]/comments"
--- error_code: 200
--- response_body eval
$::CommentsPage



=== TEST 15: paged: count=1
--- request eval
"GET /v1/photos/$::Ids[0]/comments?count=1"
--- error_code: 200
--- response_body eval
'{"comments":[' . $::CommentJson[1] . '],"next_max_id":"' . $::Comments[1] . '"}'



=== TEST 16: then max_id
--- request eval
"GET /v1/photos/$::Ids[0]/comments?count=1&max_id=$::Comments[1]"
--- error_code: 200
--- response_body eval
'{"comments":[' . $::CommentJson[0] . '],"next_max_id":null}'



=== TEST 17: a photo without comments: an empty page
--- request eval
"GET /v1/photos/$::Ids[1]/comments"
--- error_code: 200
--- response_body chomp
{"comments":[],"next_max_id":null}



=== TEST 18: the comments of a photo that does not exist: 404
--- request eval
"GET /v1/photos/$::Missing/comments"
--- error_code: 404
--- response_body_like: "code":"not_found"



=== TEST 19: the feed: counts from the objects, "liked" from the reader's likes
--- request
GET /v1/feed
--- error_code: 200
--- response_body eval
$::Feed



=== TEST 20: the feed's next page: liked still right below max_id
--- request eval
"GET /v1/feed?count=2&max_id=$::Ids[3]"
--- error_code: 200
--- response_body eval
$::Feed2



=== TEST 21: one photo: liked, for its reader
--- request eval
"GET /v1/photos/$::Ids[4]"
--- error_code: 200
--- response_body eval
$::One



=== TEST 22: a user's photos, read by the reader: the reader's "liked"
--- request eval
"GET /v1/users/$::P{$::Ids[0]}{user_id}/photos"
--- error_code: 200
--- response_body eval
$::Feed



=== TEST 23: a reader whose newest likes are not in the feed: the window does not reach the page, the page's ids are asked for
--- init
PhotoFixture::redis('ZADD', "likes:{5101}", 0, PhotoFixture::list_id(9510009),
                    0, PhotoFixture::list_id(9510008), 0, PhotoFixture::list_id(9510006));
--- request
GET /v1/feed?count=1
--- error_code: 200
--- response_body eval
$::Newest



=== TEST 24: likes not in Redis: "liked" from Postgres, and the list stored back
--- init
PhotoFixture::redis('DEL', "likes:{5101}");
--- request
GET /v1/feed
--- error_code: 200
--- response_body eval
$::Feed



=== TEST 25: the poster's activity, from Redis, newest first
--- more_headers eval
"Authorization: Bearer $::PosterToken"
--- request
GET /v1/activity
--- error_code: 200
--- response_body eval
$::ActivityPage



=== TEST 26: paged
--- more_headers eval
"Authorization: Bearer $::PosterToken"
--- request
GET /v1/activity?count=2
--- error_code: 200
--- response_body eval
$::ActivityPaged



=== TEST 27: the page after it
--- more_headers eval
"Authorization: Bearer $::PosterToken"
--- request
GET /v1/activity?count=2&max_id=9510201
--- error_code: 200
--- response_body eval
'{"activity":[' . $::Entries[0] . '],"next_max_id":null}'



=== TEST 28: the reader's activity, not complete in Redis: from Postgres
--- request
GET /v1/activity
--- error_code: 200
--- response_body eval
qq{{"activity":[$::Followed],"next_max_id":null}}



=== TEST 29: the activity without a session: 401
--- more_headers
X-Nothing: 1
--- request
GET /v1/activity
--- error_code: 401
--- response_body_like: "code":"unauthorized"



=== TEST 30: like a photo (the poster, their own): 202, queued, with the request's id
--- more_headers eval
"Authorization: Bearer $::PosterToken"
--- request eval
"POST /v1/photos/$::Ids[2]/likes"
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$



=== TEST 31: unlike what was not liked: 202 too (not an error)
--- more_headers eval
"Authorization: Bearer $::PosterToken"
--- request eval
"DELETE /v1/photos/$::Ids[2]/likes"
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$



=== TEST 32: a comment: 202 with its id
--- request eval
"POST /v1/photos/$::Ids[5]/comments\n" . '{"text":"nice \u00e9"}'
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json"
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$



=== TEST 33: the photo's poster may delete the reader's comment: 202
--- more_headers eval
"Authorization: Bearer $::PosterToken"
--- request eval
"DELETE /v1/comments/$::Comments[0]"
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$
