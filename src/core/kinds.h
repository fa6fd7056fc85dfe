/* The kinds of resource ferry makes, each defined once: its state key, label, teardown rank, who
 * names it, whether it bills, and its ensure, discover and delete (in src/core/kind-*.c); plus the
 * reads several kinds share: the ferry:name tag check, the tagged describe, a bucket's owner, the IAM
 * get. Bootstrap, the step commands, status, ls and teardown all walk ferry_kinds(). */
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
#define FERRY_KIND_BUDGET "budget" /* an AWS Budget (core/kind-budget.c), deleted last */
#define FERRY_KIND_TOPIC "topic"   /* the SNS topic of run --notify (core/kind-topic.c) */

/* The message attribute the instance's agent publishes a run's message with: the address it is
 * for (each address's subscription has a filter policy on it). */
#define FERRY_TOPIC_EMAIL_ATTRIBUTE "email"

typedef struct _FerryResources FerryResources; /* resources.h */
typedef struct _FerrySpec FerrySpec;           /* resources.h */
typedef struct _FerryDiscovery FerryDiscovery; /* kind-private.h */
typedef struct _FerryTeardown FerryTeardown;   /* teardown.h */

/* Adopt or make the kind as `spec` asks (nothing when it asks for none), tagged, recorded in the
 * state the moment its create call returns. */
typedef gboolean (*FerryKindEnsure) (FerryResources *res, const FerrySpec *spec,
                                     GCancellable *cancellable, GError **error);
/* Add what AWS has of the kind to the discovery: by tag ferry:name=NAME, or by name where only the
 * name finds it. */
typedef gboolean (*FerryKindDiscover) (FerryDiscovery *d, GCancellable *cancellable,
                                       GError **error);
/* Delete `items` (FerryFound: the plan's items of the kind that are not kept), forgetting each from
 * the state as it goes. */
typedef gboolean (*FerryKindDelete) (FerryTeardown *td, GPtrArray *items,
                                     GCancellable *cancellable, GError **error);

/* One row per kind. Where each lives: src/core/kind-<file>.c (key-pair, network, security-group,
 * bucket, iam, instance, budget, topic), one file per kind or per pair that is made together. */
typedef struct
{
  const char *kind;
  const char *label;      /* "security group" */
  gboolean aws_names_it;  /* its id is AWS's (sg-..., i-...); else ferry names it <NAME>... */
  gboolean bills;         /* costs money while it exists (instance, volume, bucket) */
  gboolean in_state;      /* recorded in the state when made (not volumes, not the pem) */
  const char *made_with;  /* made by that kind's ensure (a subnet with its VPC), or NULL */
  FerryKindEnsure ensure; /* NULL: made with `made_with` */
  const char *const *ensure_after; /* kinds that must be recorded before its ensure starts */
  FerryKindDiscover discover;      /* NULL: known from the state (and the disk) only */
  FerryKindDelete delete;
  const char *const *delete_after; /* kinds whose deletion must be done before its own */
} FerryKind;

/* Every kind in teardown order (what must go first comes first); ends with a NULL kind. */
const FerryKind *ferry_kinds (void);
/* The kind's entry, or NULL. */
const FerryKind *ferry_kind_lookup (const char *kind);
/* Its label ("security group"), or the kind itself when unknown. */
const char *ferry_kind_label (const char *kind);
/* Its place in teardown order (unknown kinds last). */
guint ferry_kind_rank (const char *kind);
/* The kind's ensure, for a step command (ferry bucket, ferry firewall...). */
gboolean ferry_kind_ensure (const char *kind, FerryResources *res, const FerrySpec *spec,
                            GCancellable *cancellable, GError **error);

/* The deployment's SNS topic, <NAME>-notify, and the ARN pattern its role may publish to (any
 * account: the role's own). */
char *ferry_topic_name (const char *deployment);
char *ferry_topic_arn_pattern (const char *deployment, const char *region);

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
