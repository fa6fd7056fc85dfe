/* ferry bucket: a private S3 bucket, tagged, public access blocked. */
#include "ferry-builtins.h"

static char *opt_bucket;

static const GOptionEntry options[] = {
  { "bucket", 0, 0, G_OPTION_ARG_STRING, &opt_bucket, "The bucket's name (S3's naming rules)",
    "NAME" },
  { NULL }
};

gboolean
ferry_builtin_bucket (int argc, char **argv, FerryInvocation *inv, GCancellable *c,
                      GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  FerryResources res;

  g_option_context_set_summary (
      context, "Make a private S3 bucket for the deployment: tagged, with public access blocked.\n"
               "A bucket of yours that already exists is used as it is and never deleted.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry bucket --help)", argv[1]);
  if (opt_bucket == NULL)
    return ferry_usage_error (context, error, "ferry bucket needs --bucket NAME");
  if (!ferry_bucket_name_validate (opt_bucket, error))
    return FALSE;
  if (!ferry_resources_open (inv, error))
    return FALSE;
  ferry_resources_init (inv, &res);
  if (!ferry_kind_ensure (FERRY_KIND_BUCKET, &res, &(FerrySpec){ .bucket = opt_bucket }, c, error))
    return FALSE;
  if (!inv->dry_run
      && !ferry_state_set_setting (inv->state, "bucket", json_string (opt_bucket), error))
    return FALSE;
  if (!inv->dry_run)
    g_print ("bucket %s ready (private)\n", opt_bucket);
  return TRUE;
}
