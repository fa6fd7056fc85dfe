/* ferry network: adopt the default VPC and pick one of its subnets (or create a default VPC). */
#include "ferry-builtins.h"

gboolean
ferry_builtin_network (int argc, char **argv, FerryInvocation *inv, GCancellable *c,
                       GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autofree char *vpc = NULL, *subnet = NULL, *az = NULL;
  g_autoptr(json_t) vpc_res = NULL;
  FerryResources res;

  g_option_context_set_summary (
      context, "Use the account's default VPC and one of its default subnets. When the account\n"
               "has no default VPC, create one (then ferry teardown removes it again).");
  if (!ferry_option_context_parse (context, NULL, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry network --help)", argv[1]);
  if (!ferry_resources_open (inv, error))
    return FALSE;
  ferry_resources_init (inv, &res);
  if (!ferry_kind_ensure (FERRY_KIND_VPC, &res, &(FerrySpec){ .network = TRUE }, c, error))
    return FALSE;
  if (inv->dry_run)
    return TRUE;
  vpc_res = ferry_state_dup_resource (inv->state, FERRY_KIND_VPC);
  vpc = ferry_state_dup_resource_string (inv->state, FERRY_KIND_VPC, "id");
  subnet = ferry_state_dup_resource_string (inv->state, FERRY_KIND_SUBNET, "id");
  az = ferry_state_dup_resource_string (inv->state, FERRY_KIND_SUBNET, "az");
  g_print ("vpc %s (%s), subnet %s (%s)\n", vpc,
           json_is_true (json_object_get (vpc_res, "created")) ? "created by ferry" : "adopted",
           subnet, az ? az : "-");
  return TRUE;
}
