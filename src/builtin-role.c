/* ferry role: IAM role <NAME>-ec2 for the instance, allowed the deployment's one bucket. */
#include "ferry-builtins.h"

static char *opt_bucket;

static const GOptionEntry options[] = {
  { "bucket", 0, 0, G_OPTION_ARG_STRING, &opt_bucket,
    "The bucket the role may use (default: the deployment's)", "NAME" },
  { NULL }
};

gboolean
ferry_builtin_role (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autofree char *bucket = NULL;
  FerryResources res;

  g_option_context_set_summary (
      context, "Make the IAM role <NAME>-ec2 (trusted by EC2), its inline policy <NAME>-s3 that\n"
               "reaches one bucket and its objects only, and the instance profile <NAME>-profile.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry role --help)", argv[1]);
  if (opt_bucket != NULL && !ferry_bucket_name_validate (opt_bucket, error))
    return FALSE;
  if (!ferry_resources_open (inv, error))
    return FALSE;
  bucket = opt_bucket ? g_strdup (opt_bucket)
                      : ferry_state_dup_resource_string (inv->state, FERRY_KIND_BUCKET, "id");
  if (bucket == NULL)
    return ferry_usage_error (context, error,
                              "the role needs a bucket: run ferry bucket --bucket NAME first, or "
                              "give --bucket NAME");
  ferry_resources_init (inv, &res);
  if (!ferry_kind_ensure (FERRY_KIND_ROLE, &res, &(FerrySpec){ .bucket = bucket, .iam = TRUE }, c,
                          error))
    return FALSE;
  if (inv->dry_run)
    return TRUE;
  if (!ferry_state_set_setting (inv->state, "iam", json_true (), error))
    return FALSE;
  g_print ("role %s-ec2 (s3://%s only) in instance profile %s-profile\n", inv->name, bucket,
           inv->name);
  return TRUE;
}
