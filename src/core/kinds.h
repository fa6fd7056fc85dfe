/* The kinds of resource ferry makes, each defined once: its state key, label, teardown rank,
 * who names it, whether it bills; and the reads both sides use (making: resources.c; finding and
 * deleting: teardown.c): the ferry:name tag check, the tagged describe, the bucket's tags, the IAM
 * get. Everything that walks kinds (bootstrap, status, ls, teardown) walks ferry_kinds(). */
#pragma once

#include "aws.h"

G_BEGIN_DECLS

/* The tag everything ferry makes carries: ferry:name=<NAME>. */
#define FERRY_TAG_KEY "ferry:name"

/* Kinds, as keys of the state's "resources" and of what discovery finds. */
#define FERRY_KIND_KEY_PAIR "key_pair"
#define FERRY_KIND_VPC "vpc"
#define FERRY_KIND_SUBNET "subnet"
#define FERRY_KIND_SECURITY_GROUP "security_group"
#define FERRY_KIND_BUCKET "bucket"
#define FERRY_KIND_ROLE "role"
#define FERRY_KIND_INSTANCE_PROFILE "instance_profile"
#define FERRY_KIND_INSTANCE "instance"
#define FERRY_KIND_VOLUME "volume" /* only in AWS: it comes and goes with its instance */
#define FERRY_KIND_PEM "pem"       /* only on disk: the private key next to the state */
#define FERRY_KIND_BUDGET "budget" /* an AWS Budget (core/budget.c), deleted last */

typedef struct
{
  const char *kind;
  const char *label;      /* "security group" */
  gboolean aws_names_it;  /* its id is AWS's (sg-..., i-...); else ferry names it <NAME>... */
  gboolean bills;         /* costs money while it exists (instance, volume, bucket) */
  gboolean in_state;      /* recorded in the state when made (not volumes, not the pem) */
} FerryKind;

/* Every kind in teardown order (what must go first comes first); ends with a NULL kind. */
const FerryKind *ferry_kinds (void);
/* The kind's entry, or NULL. */
const FerryKind *ferry_kind_lookup (const char *kind);
/* Its label ("security group"), or the kind itself when unknown. */
const char *ferry_kind_label (const char *kind);
/* Its place in teardown order (unknown kinds last). */
guint ferry_kind_rank (const char *kind);

/* The value of `key` in an aws Tags array ([{Key, Value}]), or NULL. */
const char *ferry_tags_value (json_t *tags, const char *key);
/* The ferry:name tag's value (who made it), or NULL for an untagged resource. */
const char *ferry_tags_owner (json_t *tags);

/* The EC2 resources of one kind tagged ferry:name=`name` (any ferry name when NULL): the `member`
 * array of `aws ec2 OPERATION --filters TAG [extra_filter]`. */
json_t *ferry_kind_describe_tagged (FerryAws *aws, const char *operation, const char *member,
                                    const char *name, const char *extra_filter,
                                    GCancellable *cancellable, GError **error);

/* A bucket's ferry:name tag: *out_owner is NULL when it has no tags. FERRY_ERROR_NOT_FOUND when
 * the bucket does not exist; AccessDenied (someone else's bucket) is an error the caller decides
 * about. */
gboolean ferry_kind_bucket_owner (FerryAws *aws, const char *bucket, char **out_owner,
                                  GCancellable *cancellable, GError **error);

/* The IAM role (FERRY_KIND_ROLE) or instance profile named `name`: the Role / InstanceProfile
 * object, or FERRY_ERROR_NOT_FOUND. */
json_t *ferry_kind_iam_get (FerryAws *aws, const char *kind, const char *name,
                            GCancellable *cancellable, GError **error);

G_END_DECLS
