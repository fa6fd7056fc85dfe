/* The kinds of resource ferry makes, each defined once, and the reads both making and deleting use. */
#include "kind-private.h"

/* What a kind waits for: to be made (the launch needs its key pair, group, bucket, profile; nothing
 * bills before the budget watches) and to be deleted (an instance holds its volume, group, subnet
 * and VPC; a profile holds its role). */
#define AFTER(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* In teardown order: an instance before its volume and group, the key pair and IAM meanwhile, the
 * topic and the bucket, then the network, the budget last (until then it still watches). */
static const FerryKind kinds[] = {
  { FERRY_KIND_INSTANCE, "instance", TRUE, TRUE, TRUE, NULL, ferry_instance_ensure,
    AFTER (FERRY_KIND_KEY_PAIR, FERRY_KIND_SECURITY_GROUP, FERRY_KIND_BUCKET,
           FERRY_KIND_INSTANCE_PROFILE, FERRY_KIND_BUDGET),
    ferry_instance_discover, ferry_instance_delete, NULL },
  { FERRY_KIND_VOLUME, "volume", TRUE, TRUE, FALSE, FERRY_KIND_INSTANCE, NULL, NULL,
    ferry_volume_discover, ferry_volume_delete, AFTER (FERRY_KIND_INSTANCE) },
  { FERRY_KIND_SECURITY_GROUP, "security group", TRUE, FALSE, TRUE, NULL,
    ferry_security_group_ensure, NULL, ferry_security_group_discover, ferry_security_group_delete,
    AFTER (FERRY_KIND_INSTANCE) },
  { FERRY_KIND_KEY_PAIR, "key pair", FALSE, FALSE, TRUE, NULL, ferry_key_pair_ensure, NULL,
    ferry_key_pair_discover, ferry_key_pair_delete, NULL },
  { FERRY_KIND_PEM, "key file", FALSE, FALSE, FALSE, FERRY_KIND_KEY_PAIR, NULL, NULL, NULL,
    ferry_pem_delete, AFTER (FERRY_KIND_KEY_PAIR) },
  { FERRY_KIND_INSTANCE_PROFILE, "instance profile", FALSE, FALSE, TRUE, FERRY_KIND_ROLE, NULL,
    NULL, ferry_instance_profile_discover, ferry_instance_profile_delete, NULL },
  { FERRY_KIND_ROLE, "role", FALSE, FALSE, TRUE, NULL, ferry_role_ensure, NULL,
    ferry_role_discover, ferry_role_delete, AFTER (FERRY_KIND_INSTANCE_PROFILE) },
  /* The instance's agent publishes to it until the run ends. */
  { FERRY_KIND_TOPIC, "SNS topic", FALSE, FALSE, TRUE, NULL, ferry_topic_ensure, NULL,
    ferry_topic_discover, ferry_topic_delete, AFTER (FERRY_KIND_INSTANCE) },
  { FERRY_KIND_BUCKET, "bucket", FALSE, TRUE, TRUE, NULL, ferry_bucket_ensure,
    AFTER (FERRY_KIND_BUDGET), ferry_bucket_discover, ferry_bucket_delete, NULL },
  { FERRY_KIND_SUBNET, "subnet", TRUE, FALSE, TRUE, FERRY_KIND_VPC, NULL, NULL, NULL,
    ferry_subnet_delete, AFTER (FERRY_KIND_INSTANCE, FERRY_KIND_SECURITY_GROUP) },
  { FERRY_KIND_VPC, "vpc", TRUE, FALSE, TRUE, NULL, ferry_network_ensure, NULL, ferry_vpc_discover,
    ferry_vpc_delete, AFTER (FERRY_KIND_INSTANCE, FERRY_KIND_SECURITY_GROUP, FERRY_KIND_SUBNET) },
  { FERRY_KIND_BUDGET, "budget", FALSE, FALSE, TRUE, NULL, ferry_budget_kind_ensure, NULL,
    ferry_budget_discover, ferry_budget_kind_delete,
    AFTER (FERRY_KIND_INSTANCE, FERRY_KIND_VOLUME, FERRY_KIND_SECURITY_GROUP, FERRY_KIND_KEY_PAIR,
           FERRY_KIND_PEM, FERRY_KIND_INSTANCE_PROFILE, FERRY_KIND_ROLE, FERRY_KIND_BUCKET,
           FERRY_KIND_SUBNET, FERRY_KIND_VPC, FERRY_KIND_TOPIC) },
  { NULL },
};

const FerryKind *
ferry_kinds (void)
{
  return kinds;
}

const FerryKind *
ferry_kind_lookup (const char *kind)
{
  for (const FerryKind *k = kinds; kind != NULL && k->kind != NULL; k++)
    if (g_str_equal (k->kind, kind))
      return k;
  return NULL;
}

const char *
ferry_kind_label (const char *kind)
{
  const FerryKind *k = ferry_kind_lookup (kind);
  return k != NULL ? k->label : kind;
}

guint
ferry_kind_rank (const char *kind)
{
  const FerryKind *k = ferry_kind_lookup (kind);
  return k != NULL ? (guint) (k - kinds) : G_N_ELEMENTS (kinds);
}

gboolean
ferry_kind_ensure (const char *kind, FerryResources *res, const FerrySpec *spec,
                   GCancellable *cancellable, GError **error)
{
  const FerryKind *k = ferry_kind_lookup (kind);

  g_return_val_if_fail (k != NULL && k->ensure != NULL, FALSE);
  return k->ensure (res, spec, cancellable, error);
}

const char *
ferry_tags_value (json_t *tags, const char *key)
{
  size_t i;
  json_t *tag;

  json_array_foreach (tags, i, tag)
    if (g_strcmp0 (json_string_value (json_object_get (tag, "Key")), key) == 0)
      return json_string_value (json_object_get (tag, "Value"));
  return NULL;
}

const char *
ferry_tags_owner (json_t *tags)
{
  return ferry_tags_value (tags, FERRY_TAG_KEY);
}

json_t *
ferry_kind_describe_tagged (FerryAws *aws, const char *operation, const char *member,
                            const char *name, const char *extra_filter,
                            GCancellable *cancellable, GError **error)
{
  g_autofree char *filter = name != NULL
                                ? g_strdup_printf ("Name=tag:%s,Values=%s", FERRY_TAG_KEY, name)
                                : g_strdup_printf ("Name=tag-key,Values=%s", FERRY_TAG_KEY);
  g_autofree char *what = g_strconcat ("aws ec2 ", operation, NULL);
  const char *args[] = { "--filters", filter, extra_filter, NULL };
  g_autoptr(json_t) root = ferry_aws_call (aws, "ec2", operation, args, cancellable, error);
  json_t *array = NULL;

  if (root == NULL)
    return NULL;
  if (!ferry_json_unpack (root, what, error, "{s:o}", member, &array))
    return NULL;
  if (!json_is_array (array))
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                         "unexpected output from %s: %s is not a list", what, member),
            NULL);
  return json_incref (array);
}

gboolean
ferry_kind_bucket_owner (FerryAws *aws, const char *bucket, char **out_owner,
                         GCancellable *cancellable, GError **error)
{
  const char *args[] = { "--bucket", bucket, NULL };
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) root
      = ferry_aws_call (aws, "s3api", "get-bucket-tagging", args, cancellable, &local_error);

  *out_owner = NULL;
  if (root != NULL)
    {
      *out_owner = g_strdup (ferry_tags_owner (json_object_get (root, "TagSet")));
      return TRUE;
    }
  /* A bucket without tags answers NoSuchTagSet: it exists, and no one tagged it. */
  if (ferry_aws_error_has_code (local_error, "NoSuchTagSet"))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

json_t *
ferry_kind_iam_get (FerryAws *aws, const char *kind, const char *name, GCancellable *cancellable,
                    GError **error)
{
  gboolean is_role = g_str_equal (kind, FERRY_KIND_ROLE);
  const char *operation = is_role ? "get-role" : "get-instance-profile";
  const char *member = is_role ? "Role" : "InstanceProfile";
  const char *args[] = { is_role ? "--role-name" : "--instance-profile-name", name, NULL };
  g_autoptr(json_t) root = ferry_aws_call (aws, "iam", operation, args, cancellable, error);
  json_t *obj;

  if (root == NULL)
    return NULL;
  obj = json_object_get (root, member);
  if (!json_is_object (obj))
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "unexpected output from aws iam %s: no %s",
                         operation, member),
            NULL);
  return json_incref (obj);
}
