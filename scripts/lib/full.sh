# The whole system, as scripts/demo, scripts/test and scripts/chaos run it:
# nearby search against the Solr stand-in, with an index worker; push
# notifications to the APNs and FCM stand-ins, with a notify worker;
# sharing to the Twitter and Facebook stand-ins, with a share worker; the
# local S3 bucket, with a media worker; Prometheus and its exporters.
# Sourced, never run; settings already in the environment win.
export PHOTO_SOLR_STANDIN=${PHOTO_SOLR_STANDIN:-1}
export PHOTO_PUSH_STANDIN=${PHOTO_PUSH_STANDIN:-1}
export PHOTO_SHARE_STANDIN=${PHOTO_SHARE_STANDIN:-1}
export PHOTO_S3=${PHOTO_S3:-1}
export PHOTO_WORKERS=${PHOTO_WORKERS:-persist:2 fanout:2 follow:1 device:1 auth:1 index:1 notify:1 social:1 share:1 media:1}
export PHOTO_PROMETHEUS=${PHOTO_PROMETHEUS:-1}
